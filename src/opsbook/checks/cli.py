"""`opsbook check list|run|pings`: the checks from a terminal (`opsbook status` is in status_cli.py)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.table import Table

from opsbook.checks.heartbeat_watch import KEEP_PINGS, ensure_tokens, recent_pings
from opsbook.checks.kinds.heartbeat import HeartbeatCheck
from opsbook.checks.runner import run_check
from opsbook.checks.spec import CheckSpec, RunContext
from opsbook.checks.status_cli import styled
from opsbook.cli.common import ConfigOption, console, runtime_or_exit
from opsbook.config.types import format_duration
from opsbook.runtime import Runtime
from opsbook.timefmt import show_time

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
    result = asyncio.run(run_check(spec, RunContext(clock=runtime.clock, zone=runtime.config.timezone)))
    latency = f"{result.latency_ms:.1f} ms" if result.latency_ms is not None else "-"
    console.print(f"{check_id}: {styled(result.status.value)} in {latency}")
    if result.message:
        console.print(runtime.redact(result.message), markup=False, highlight=False)
    for key, value in result.values.items():
        console.print(f"  {key} = {value:g}")
    raise typer.Exit(0 if result.ok else 1)


@app.command("pings")
def pings(
    name: Annotated[str, typer.Argument(help="service/check of a heartbeat, or a unique check name")],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=KEEP_PINGS, help="How many.")] = 20,
    config: ConfigOption = None,
) -> None:
    """A heartbeat's latest pings, newest first, with what the job sent (/log messages included)."""
    runtime = runtime_or_exit(config, create=False)
    check_id, spec = find_check(runtime, name)
    if not spec.push:
        console.print(f"{check_id} is a {spec.kind} check: it receives no pings")
        raise typer.Exit(1)
    with runtime.sessions() as session:
        found = recent_pings(session, check_id, limit)
    if not found:
        console.print(f"{check_id} has had no pings yet", highlight=False)
        return
    table = Table("when", "ping", "message")
    for ping in found:
        kind = f"exit code {ping.exit_code}" if ping.kind == "exit" else ping.kind
        table.add_row(show_time(ping.ts, runtime.config.timezone, seconds=True), kind,
                      runtime.redact(ping.message))
    console.print(table)
