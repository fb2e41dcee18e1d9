"""`opsbook alert list [--state firing] [--service S] [--severity P1]`: alerts from the store, as a table."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from opsbook.alerts.service import list_alerts
from opsbook.alerts.state import AlertState
from opsbook.cli.common import ConfigOption, console, runtime_or_exit
from opsbook.incidents.words import alert_name
from opsbook.rules.severity import Severity
from opsbook.timefmt import show_span, show_time

app = typer.Typer(help="Alerts: what is firing, pending and recently resolved.", no_args_is_help=True)

STATE_STYLE = {"firing": "bold red", "pending": "yellow", "resolved": "green", "inactive": "dim"}
SEVERITY_STYLE = {"P0": "bold white on red", "P1": "bold red", "P2": "yellow", "P3": "cyan", "P4": "dim"}


@app.command("list")
def list_command(
    config: ConfigOption = None,
    state: Annotated[AlertState | None, typer.Option("--state", "-s", help="Only this state.")] = None,
    service: Annotated[str | None, typer.Option("--service", help="Only this service.")] = None,
    severity: Annotated[str | None, typer.Option("--severity", help="Only this severity (P0-P4).")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="At most this many, newest first.")] = 50,
) -> None:
    """Alerts newest first (cleared pendings are left out unless --state inactive)."""
    runtime = runtime_or_exit(config, create=False)
    level = None
    if severity is not None:
        try:
            level = Severity.parse(severity).value
        except ValueError as exc:
            console.print(f"[red]{exc}[/]", highlight=False)
            raise typer.Exit(2) from None
    zone = runtime.config.timezone
    now = runtime.clock.now()
    try:
        with runtime.sessions() as session:
            rows = list_alerts(session, state=state.value if state else None, service=service, severity=level,
                               limit=limit)
    finally:
        runtime.close()
    if not rows:
        console.print("no alerts" + (f" in state {state.value}" if state else ""))
        return
    table = Table("id", "state", "sev", "service", "check / rule", "since", "value", "summary")
    for row in rows:
        started = row.fired_at or row.pending_since or row.created_at
        since = row.resolved_at if row.state == "resolved" else started
        what = alert_name(None, row.check_id, row.rule) if row.check_id or row.rule else row.source
        value = "" if row.value is None else f"{row.value:g}"
        state_text = f"[{STATE_STYLE.get(row.state, '')}]{row.state}[/]"
        if row.silenced:
            state_text += " [dim](silenced)[/]"
        sev = f"[{SEVERITY_STYLE.get(row.severity, '')}]{row.severity}[/]"
        table.add_row(str(row.id), state_text, sev, escape(row.service), escape(what),
                      _when(since, now, zone), value, escape(runtime.redact(row.summary)))
    console.print(table)


def _when(ts: datetime | None, now: datetime, zone: str) -> str:
    """`2026-03-09 04:12 CET` in the team's time zone, and on a second line `10 min ago`."""
    if ts is None:
        return ""
    local = show_time(ts, zone)
    ago = (now - ts).total_seconds()
    return f"{local}\n{show_span(ago)} ago" if ago >= 1 else local
