"""`opsbook audit list`: who did what, when and from where (newest first)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy import select

from opsbook.auth.models import AuditRow
from opsbook.cli.common import ConfigOption, console, parse_since, runtime_or_exit
from opsbook.timefmt import show_time

app = typer.Typer(help="The audit log of every mutating action.", no_args_is_help=True)


@app.command("list")
def list_audit(
    actor: Annotated[
        str | None, typer.Option(help="Only this actor (user name, token:NAME, cli:USER).")
    ] = None,
    action: Annotated[
        str | None, typer.Option(help="Only actions starting with this, e.g. incident.")
    ] = None,
    target: Annotated[str | None, typer.Option(help="Only this target, e.g. incident:7.")] = None,
    since: Annotated[
        str | None, typer.Option(help="Only the last period (24h, 7d) or since a time (yesterday 09:00).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="At most this many rows.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    config: ConfigOption = None,
) -> None:
    """Show audit rows, newest first."""
    runtime = runtime_or_exit(config)
    query = select(AuditRow)
    if actor:
        query = query.where(AuditRow.actor == actor)
    if action:
        query = query.where(AuditRow.action.startswith(action))
    if target:
        query = query.where(AuditRow.target == target)
    if since:
        query = query.where(AuditRow.ts >= parse_since(since, runtime, "--since"))
    with runtime.sessions() as session:
        rows = list(session.scalars(query.order_by(AuditRow.id.desc()).limit(limit)))
    if as_json:
        for row in rows:
            typer.echo(
                json.dumps(
                    {
                        "id": row.id,
                        "ts": row.ts.isoformat(),
                        "actor": row.actor,
                        "action": row.action,
                        "target": row.target,
                        "source": row.source,
                        "detail": row.detail,
                    },
                    default=str,
                )
            )
        return
    table = Table("when", "actor", "from", "action", "target", "detail")
    for row in rows:
        detail = ", ".join(f"{k}={v}" for k, v in (row.detail or {}).items())
        table.add_row(
            show_time(row.ts, runtime.config.timezone, seconds=True),
            escape(row.actor),
            escape(row.source),
            escape(row.action),
            escape(row.target),
            escape(runtime.redact(detail))[:200],
        )
    console.print(table)
