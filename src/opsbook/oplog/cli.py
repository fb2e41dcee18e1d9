"""`opsbook oplog list|show|add|export`: the operations log, in the runbooks' template."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from opsbook.cli.common import (
    AuthorOption,
    ConfigOption,
    cli_actor,
    cli_errors,
    console,
    parse_length,
    parse_time,
    runtime_or_exit,
)
from opsbook.oplog import service
from opsbook.oplog.markdown import entry_markdown, export_markdown, human_duration
from opsbook.timefmt import show_time

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
                show_time(r.ts, runtime.config.timezone),
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
    with runtime.sessions() as session, cli_errors(runtime):
        row = service.get_entry(session, entry_id)
        text = (
            json.dumps(service.entry_dict(row), indent=2, ensure_ascii=False)
            if as_json
            else entry_markdown(row, runtime.config.timezone)
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
    at: Annotated[
        str | None, typer.Option("--at", help="When (-2h, today 14:00, ISO 8601; in the team's time zone).")
    ] = None,
    author: AuthorOption = None,
    config: ConfigOption = None,
) -> None:
    """Record work done by hand."""
    runtime = runtime_or_exit(config)
    seconds = parse_length(duration, "--duration").total_seconds() if duration else None
    when = parse_time(at, runtime, "--at") if at else None
    with cli_errors(runtime):
        row = service.log_operation(
            runtime,
            cli_actor(author),
            operation=operation,
            at=when,
            reason=reason,
            impact=impact,
            duration_s=seconds,
            issues=issues,
            follow_up=follow_up,
            incident_id=incident,
        )
    console.print(f"Operations log entry #{row.id} added.")


@app.command("export")
def export(
    incident: IncidentOption = None,
    since: Annotated[str | None, typer.Option(help="Only entries from this time (-7d, 2026-03-01).")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many entries.")] = 1000,
    config: ConfigOption = None,
) -> None:
    """The log as Markdown, oldest first, each entry in the runbook template."""
    runtime = runtime_or_exit(config)
    start = parse_time(since, runtime, "--since") if since else None
    with runtime.sessions() as session:
        rows = list(reversed(service.list_entries(session, incident_id=incident, since=start, limit=limit)))
        title = f"Operation Logs: incident {incident}" if incident else "Operation Logs"
        text = export_markdown(rows, title, runtime.config.timezone)
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"{len(rows)} entries written to {output}")
