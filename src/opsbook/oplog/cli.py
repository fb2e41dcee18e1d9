"""`opsbook oplog list|show|add|export`: the operations log, in the runbooks' template."""

from __future__ import annotations

import getpass
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from opsbook.auth import audit
from opsbook.auth.roles import Principal, Role
from opsbook.cli.common import ConfigOption, console, err_console, runtime_or_exit
from opsbook.config.types import parse_duration
from opsbook.oplog import service
from opsbook.oplog.markdown import entry_markdown, export_markdown, human_duration

app = typer.Typer(help="Operations log: what was done, why, and how it went.", no_args_is_help=True)
IncidentOption = Annotated[str | None, typer.Option("--incident", help="Only entries of this incident.")]


@app.command("list")
def list_(
    incident: IncidentOption = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
    config: ConfigOption = None,
) -> None:
    """Recent entries."""
    runtime = runtime_or_exit(config)
    with runtime.sessions() as session:
        rows = service.list_entries(session, incident_id=incident, limit=limit)
        if as_json:
            typer.echo(json.dumps([service.entry_dict(r) for r in rows], indent=2, ensure_ascii=False))
            return
        table = Table("id", "date/time", "operation", "duration", "operator", "incident", "issues")
        for r in rows:
            table.add_row(
                str(r.id),
                r.ts.strftime("%Y-%m-%d %H:%M UTC"),
                escape(r.operation),
                human_duration(r.duration_s),
                escape(r.operator),
                r.incident_id or "",
                escape(r.issues or "None"),
            )
    console.print(table)


@app.command("show")
def show(
    entry_id: Annotated[int, typer.Argument(help="Entry id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
    config: ConfigOption = None,
) -> None:
    """One entry: the template fields, then each step's command, exit code, duration and output."""
    runtime = runtime_or_exit(config)
    with runtime.sessions() as session:
        try:
            row = service.get_entry(session, entry_id)
        except service.EntryNotFound as exc:
            err_console.print(str(exc))
            raise typer.Exit(2) from None
        text = (
            json.dumps(service.entry_dict(row), indent=2, ensure_ascii=False)
            if as_json
            else entry_markdown(row)
        )
    typer.echo(text)


@app.command("add")
def add(
    operation: Annotated[str, typer.Option(help="What you did.")],
    reason: Annotated[str, typer.Option(help="Why you did it.")] = "",
    impact: Annotated[str, typer.Option(help="Service behaviour before/after.")] = "",
    duration: Annotated[str | None, typer.Option(help="How long it took: 90s, 15m, 1h30m.")] = None,
    issues: Annotated[str, typer.Option(help="Any problems?")] = "",
    follow_up: Annotated[str, typer.Option("--follow-up", help="Anything to do next?")] = "",
    incident: Annotated[str | None, typer.Option("--incident", help="Incident it belongs to.")] = None,
    at: Annotated[str | None, typer.Option("--at", help="When (ISO 8601, default now).")] = None,
    operator: Annotated[str | None, typer.Option(help="Who did it (default: you).")] = None,
    config: ConfigOption = None,
) -> None:
    """Record work done by hand."""
    runtime = runtime_or_exit(config)
    now = runtime.clock.now()
    try:
        seconds = parse_duration(duration).total_seconds() if duration else None
        when = datetime.fromisoformat(at) if at else now
    except ValueError as exc:
        err_console.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=now.tzinfo)
    who = operator or os.environ.get("OPSBOOK_OPERATOR") or getpass.getuser()
    with runtime.sessions.begin() as session:
        row = service.add_entry(
            session,
            now=now,
            ts=when,
            operation=operation,
            reason=reason,
            impact=impact,
            duration_s=seconds,
            issues=issues,
            follow_up=follow_up,
            operator=who,
            incident_id=incident,
        )
        audit.record(session, now, Principal(who, Role.RESPONDER, "cli"), "oplog.add", str(row.id))
        entry_id = row.id
    console.print(f"Operations log entry #{entry_id} added.")


@app.command("export")
def export(
    incident: IncidentOption = None,
    since: Annotated[str | None, typer.Option(help="Only entries from this date/time (ISO 8601).")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many entries.")] = 1000,
    config: ConfigOption = None,
) -> None:
    """The log as Markdown, oldest first, each entry in the runbook template."""
    runtime = runtime_or_exit(config)
    start = datetime.fromisoformat(since) if since else None
    if start is not None and start.tzinfo is None:
        start = start.replace(tzinfo=runtime.clock.now().tzinfo)
    with runtime.sessions() as session:
        rows = list(reversed(service.list_entries(session, incident_id=incident, since=start, limit=limit)))
        title = f"Operation Logs: incident {incident}" if incident else "Operation Logs"
        text = export_markdown(rows, title)
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"{len(rows)} entries written to {output}")
