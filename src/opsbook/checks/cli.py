"""`opsbook check list|run` and `opsbook status`: the checks from a terminal, reading the store directly."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

from opsbook.checks import store
from opsbook.checks.heartbeat_watch import ensure_tokens
from opsbook.checks.kinds.heartbeat import HeartbeatCheck
from opsbook.checks.runner import run_check
from opsbook.checks.spec import CheckSpec, RunContext
from opsbook.checks.status_table import StatusRow, format_elapsed, status_view, styled
from opsbook.checks.uptime import uptime_many
from opsbook.cli.common import ConfigOption, console, fail, print_config_error, runtime_or_exit
from opsbook.config.types import format_duration
from opsbook.config.yamlpos import ConfigError
from opsbook.errors import exit_code
from opsbook.runtime import NoDatabase, Runtime, open_runtime

app = typer.Typer(help="Checks: list them, run one now.", no_args_is_help=True)


def find_check(runtime: Runtime, name: str) -> tuple[str, CheckSpec]:
    """`service/check`, or a check name that is unique across services."""
    checks = runtime.config.checks()
    if name in checks:
        return name, checks[name]
    matches = [cid for cid in checks if cid.split("/", 1)[1] == name]
    if len(matches) == 1:
        return matches[0], checks[matches[0]]
    hint = (
        f"; did you mean one of {', '.join(matches)}?"
        if matches
        else f"; known: {', '.join(checks) or 'none'}"
    )
    console.print(f"[red]no single check named {name!r}[/]{hint}", highlight=False)
    raise typer.Exit(1)


@app.command("list")
def list_checks(config: ConfigOption = None) -> None:
    """Every check with its kind, target and schedule; heartbeat checks with their ping URL."""
    runtime = runtime_or_exit(config)
    checks = runtime.config.checks()
    beats = {cid: s for cid, s in checks.items() if isinstance(s, HeartbeatCheck)}
    with runtime.sessions.begin() as session:
        tokens = {
            cid: row.ping_token for cid, row in ensure_tokens(session, beats, runtime.clock.now()).items()
        }
    table = Table("check", "kind", "target", "every", "enabled")
    for check_id, spec in checks.items():
        target = runtime.redact(spec.target())
        if check_id in tokens:
            ping_url = f"{runtime.config.base_url.rstrip('/')}/ping/{tokens[check_id]}"
            target = f"{ping_url}  ({beats[check_id].expectation()})"
        every = "push" if spec.push else format_duration(spec.interval)
        table.add_row(check_id, spec.kind, target, every, "yes" if spec.enabled else "no")
    console.print(table)


@app.command("run")
def run(
    name: Annotated[str, typer.Argument(help="service/check, or a unique check name")],
    config: ConfigOption = None,
) -> None:
    """Run one check once, now, and print its result (nothing is recorded)."""
    runtime = runtime_or_exit(config)
    check_id, spec = find_check(runtime, name)
    if spec.push:
        console.print(f"{check_id} is a {spec.kind} check: it is pushed to, not run")
        raise typer.Exit(1)
    result = asyncio.run(run_check(spec, RunContext(clock=runtime.clock)))
    latency = f"{result.latency_ms:.1f} ms" if result.latency_ms is not None else "-"
    console.print(f"{check_id}: {styled(result.status.value)} in {latency}")
    if result.message:
        console.print(runtime.redact(result.message), markup=False, highlight=False)
    for key, value in result.values.items():
        console.print(f"  {key} = {value:g}")
    raise typer.Exit(0 if result.ok else 1)


def status(config: ConfigOption = None) -> None:
    """A table of every service and check: state, last latency, uptime over 24 h, 7 d and 30 d."""
    runtime = _existing_runtime(config)
    checks = runtime.config.checks()
    now = runtime.clock.now()
    with runtime.sessions() as session:
        states = store.states(session, checks)
        periods = {d: uptime_many(session, list(checks), now - timedelta(days=d), now) for d in (1, 7, 30)}
    rows = []
    for check_id in checks:
        service, _, check = check_id.partition("/")
        row = states.get(check_id)
        up_24h, up_7d, up_30d = (_percent(periods[d][check_id].percent) for d in (1, 7, 30))
        rows.append(
            StatusRow(
                service=service,
                check=check,
                status=row.status if row else None,
                since=format_elapsed(now - row.since) if row and row.since else "",
                latency=f"{row.last_latency_ms:.0f} ms" if row and row.last_latency_ms is not None else "-",
                uptime_24h=up_24h,
                uptime_7d=up_7d,
                uptime_30d=up_30d,
                message=runtime.redact(row.last_message).splitlines()[0][:200]
                if row and row.last_message
                else "",
            )
        )
    table, notes = status_view(rows, console.width)
    if table is not None:
        console.print(table)
    for note in notes:
        console.print(note, markup=False, highlight=False)


def _percent(value: float | None) -> str:
    return f"{value:.2f}%" if value is not None else "-"


def _existing_runtime(config: str | None) -> Runtime:
    """`runtime_or_exit` for a command that only reads: a database that is not there yet is an error
    saying where it was looked for, not a new empty one that shows "no data"."""
    try:
        return open_runtime(config, create=False)
    except ConfigError as exc:
        print_config_error(exc)
        raise typer.Exit(2) from None
    except NoDatabase as exc:
        raise fail(str(exc), exit_code(exc)) from None
