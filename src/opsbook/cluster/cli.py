"""`opsbook worker` (checks, rules, delivery and singleton duties, without the web server) and
`opsbook cluster status` (the processes sharing this PostgreSQL database, readable at 80 columns)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.table import Column, Table

from opsbook.cli.common import ConfigOption, console, fail, runtime_or_exit
from opsbook.cluster.identity import ProcessIdentity
from opsbook.locations.cli import LocationOption, location_notes
from opsbook.timefmt import show_span
from opsbook.words import count

app = typer.Typer(no_args_is_help=True, help="The processes sharing this database: workers and servers.")

NEEDS_POSTGRES = (
    "workers need PostgreSQL (database_url: postgresql://...): on SQLite `opsbook serve` alone runs "
    "everything"
)


def worker(
    config: ConfigOption = None,
    name: Annotated[str | None, typer.Option(help="How this process is shown (default worker@HOST:PID).")]
    = None,
    location: LocationOption = None,
) -> None:
    """Run checks, rules, notifications and singleton duties, without the web server (PostgreSQL)."""
    runtime = runtime_or_exit(config)
    if runtime.engine.dialect.name != "postgresql":
        runtime.close()
        raise fail(NEEDS_POSTGRES)
    from opsbook.cluster.worker import run_worker
    from opsbook.logs import setup_logging

    setup_logging(runtime.redact)
    for line in location_notes(runtime.config.checks(), location, clustered=True):
        console.print(line, markup=False, highlight=False)
    identity = ProcessIdentity.for_worker(name, location)
    console.print(f"opsbook worker {identity.name}: {len(runtime.config.checks())} checks in the config, "
                  f"database {runtime.engine.url.render_as_string(hide_password=True)}",
                  markup=False, highlight=False)
    try:
        asyncio.run(run_worker(runtime, identity))
    finally:
        runtime.close()


@app.command("status")
def status(config: ConfigOption = None) -> None:
    """Every process: roles, check leases and duties held, last heartbeat, scheduler lag."""
    from opsbook.cluster.status import cluster_status

    runtime = runtime_or_exit(config, create=False)
    try:
        found = cluster_status(runtime)
    finally:
        runtime.close()
    if not found.shared:
        console.print("SQLite: one `opsbook serve` runs everything (workers need PostgreSQL).")
        return
    table = Table(Column("process", overflow="fold"), "roles", Column("leases", justify="right"), "duties",
                  Column("heartbeat", no_wrap=True), Column("lag", justify="right"))
    for m in found.members:
        state = {"alive": "[green]alive[/]", "gone": "[dim]stopped[/]", "lost": "[red]lost[/]"}[m.state]
        leases = str(m.leases) + (f"\n[red]{m.leases_expired} expired[/]" if m.leases_expired else "")
        where = f"\n{m.location}" if m.location else ""
        table.add_row(f"{m.name}\n[dim]{m.host} pid {m.pid}[/]{where}", "\n".join(m.roles), leases,
                      "\n".join(m.duties) or "-", f"{state}\n{show_span(m.heartbeat_age_s)} ago",
                      "-" if m.lag_s is None else f"{m.lag_s:.2f} s")
    console.print(table if found.members else "no process has joined yet")
    alive = sum(1 for m in found.members if m.state == "alive" and "worker" in m.roles)
    console.print(f"{count(alive, 'worker')} alive; {found.partitions} partitions of checks, "
                  f"{found.unheld} held by none", markup=False, highlight=False)
