"""`opsbook backup list|drill NAME|report`: backup jobs, restore drills and the DR table from a terminal.

Times are shown in the team's time zone (with the zone); `drill` runs the restore now, prints each step
and the verdict, and exits 1 when the drill fails.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from opsbook.backups import service, store
from opsbook.backups.assess import human_age, human_size
from opsbook.backups.checks import SERVICE
from opsbook.checks.heartbeat_watch import ensure_tokens
from opsbook.checks.kinds.heartbeat import HeartbeatCheck
from opsbook.cli.common import AuthorOption, ConfigOption, cli_actor, cli_errors, console, runtime_or_exit
from opsbook.config.types import format_duration
from opsbook.runtime import Runtime
from opsbook.timefmt import show_time

app = typer.Typer(no_args_is_help=True, help="Backups: jobs, restore drills, the DR table.")


def _when(t: datetime | None, runtime: Runtime) -> str:
    return "never" if t is None else show_time(t, runtime.config.timezone)


def _duration(d: timedelta | None) -> str:
    return format_duration(d) if d is not None else "-"


@app.command("list")
def list_jobs(config: ConfigOption = None) -> None:
    """Every backup job: what it protects, when it runs, how opsbook learns of it, its newest backup."""
    runtime = runtime_or_exit(config)
    jobs = runtime.config.backups
    if not jobs:
        console.print("no backup jobs: add them under `backups:` in opsbook.yaml")
        return
    checks = runtime.config.checks()
    beats = {f"{SERVICE}/{j.name}": checks[f"{SERVICE}/{j.name}"] for j in jobs if j.heartbeat is not None}
    with runtime.sessions.begin() as session:
        tokens = ensure_tokens(session, {k: v for k, v in beats.items() if isinstance(v, HeartbeatCheck)},
                               runtime.clock.now())
        newest = {j.name: store.backups_of(session, j.name)[-1:] for j in jobs}
    base = runtime.config.base_url.rstrip("/")
    table = Table("job", "component", "schedule", "newest backup")
    for job in jobs:
        last = newest[job.name][0] if newest[job.name] else None
        seen = "none yet" if last is None else (
            f"{_when(last.ts, runtime)}" + (f", {human_size(last.size_bytes)}" if last.size_bytes else "")
            + ("" if last.ok else " (failed)"))
        table.add_row(job.name, job.component, f"{job.schedule} {job.timezone}", seen)
    console.print(table)
    for job in jobs:  # whole lines, never cut by the table: they are copied into the job's script
        token = tokens.get(f"{SERVICE}/{job.name}")
        if token is not None:
            url = f"{base}/ping/{token.ping_token}"
            console.print(f"{job.name} pings: {url}/start, then {url}?size=BYTES (or {url}/fail)",
                          markup=False, highlight=False, soft_wrap=True)
        if job.list is not None:
            console.print(f"{job.name} is listed by: {runtime.redact(job.list.command)}", markup=False,
                          highlight=False, soft_wrap=True)


@app.command("report")
def report(config: ConfigOption = None) -> None:
    """The DR table: RTO target and last measured RTO, RPO target and RPO now, last drill, verdict."""
    runtime = runtime_or_exit(config)
    rows = service.dr_report(runtime)
    if not rows:
        console.print("no backup jobs: add them under `backups:` in opsbook.yaml")
        return
    table = Table("job (component)", "RTO: target / last", "RPO: target / now", "last drill", "verdict",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    for row in rows:
        last_rto = f"{row.last_rto_s:.1f} s" if row.last_rto_s is not None else "-"
        rpo_now = human_age(row.rpo_now) if row.rpo_now is not None else "-"
        drilled = "never" if row.last_drill is None else show_time(row.last_drill, runtime.config.timezone,
                                                                    fmt="%m-%d %H:%M")
        drilled += "" if row.last_drill_ok in (None, True) else " FAILED"
        colour = "green" if row.verdict == "ok" else "red" if row.verdict == "at risk" else "yellow"
        table.add_row(f"{row.job} ({row.component})", f"{_duration(row.rto_target)} / {last_rto}",
                      f"{_duration(row.rpo_target)} / {rpo_now}", drilled, f"[{colour}]{row.verdict}[/]")
    console.print(table)
    for row in rows:
        for problem in row.problems:
            console.print(f"{row.job}: {runtime.redact(problem)}", markup=False, highlight=False,
                          soft_wrap=True)


@app.command("drill")
def drill(
    name: Annotated[str, typer.Argument(help="The backup job whose restore to drill.")],
    author: AuthorOption = None,
    config: ConfigOption = None,
) -> None:
    """Run the job's restore drill now: restore into a scratch target, smoke queries, RTO, clean up."""
    actor = cli_actor(author)
    runtime = runtime_or_exit(config)
    with cli_errors(runtime):
        job = service.job_of(runtime, name)
        console.print(f"drilling the restore of {job.name} ({job.component})...", highlight=False)
        row = service.run_drill(runtime, actor, name)
    for step in row.steps:
        mark = "[green]ok[/]" if step["ok"] else "[red]FAILED[/]"
        console.print(f"{mark} {escape(step['name'])} ({step['duration_s']:.2f} s)", highlight=False)
        if step["output"] and not step["ok"]:
            console.print(step["output"], markup=False, highlight=False)
    target = f" (target {format_duration(job.rto)})" if job.rto else ""
    if row.ok:
        console.print(f"[green]drill passed[/]: RTO {row.rto_s:.1f} s{target}; operations log entry "
                      f"{row.oplog_id}", highlight=False)
        return
    console.print(f"[red]drill failed[/]: {escape(row.error)}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)
