"""`opsbook deploy SERVICE VERSION` and `opsbook deploy rollback|list|show|record|freeze|unfreeze`;
`opsbook report deploys` (registered in the `report` group).

`opsbook deploy` walks the deploy (deploys.walk) with its command's output shown live; it exits

    0  succeeded: the version passed verification
    1  failed: the command failed, or a regression was not (or could not be) rolled back
    2  bad input (an unknown service, environment or option)
    3  not allowed (role)
    4  rolled back: a regression was found and the last good version restored
    5  refused: the service is frozen, the version has not passed the environment before, or another
       deploy holds the service and environment

Who acts is `--as`, else $OPSBOOK_USER, else the login name (`cli_actor`).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Coroutine, Iterator
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.table import Table
from typer.core import TyperGroup

from opsbook.checks.kinds.probes.http import close_sessions
from opsbook.cli.common import (
    AuthorOption,
    ConfigOption,
    acting,
    cli_actor,
    cli_errors,
    console,
    fail,
    parse_since,
    parse_time,
    runtime_or_exit,
)
from opsbook.deploys import queries, service, walk
from opsbook.deploys.models import DeployRow
from opsbook.deploys.report import dora_report, frequency, rate
from opsbook.runtime import Runtime
from opsbook.timefmt import show_span, show_time

HELP = "Deploys: run, verify and roll back; record changes made elsewhere; freezes."


class DeployGroup(TyperGroup):
    """`opsbook deploy api 2.0` runs the `run` command; `opsbook deploy list` the named one."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


EPILOG = (
    "opsbook deploy SERVICE VERSION is short for opsbook deploy run SERVICE VERSION. "
    "Exit codes: 0 succeeded, 1 failed, 2 bad input, 3 not allowed, 4 rolled back, "
    "5 refused (frozen, not passed before, held)."
)
app = typer.Typer(cls=DeployGroup, no_args_is_help=True, help=HELP, epilog=EPILOG)

EnvOption = Annotated[
    str | None, typer.Option("--env", "-e", help="Environment (default: the last, production).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


class Terminal:
    """The walk's console: live output dimmed, progress in bold, checklist items asked one by one."""

    def output(self, line: str) -> None:
        console.print(f"  │ {line}", markup=False, highlight=False, style="dim")

    def say(self, text: str) -> None:
        console.print(text, markup=False, highlight=False, style="bold")

    def confirm(self, item: str, phase: str) -> bool:
        when = "before" if phase == "pre" else "after"
        return typer.confirm(f"[{when} deploying] {item}?", default=False)


def _when(t: datetime | None, tz: str) -> str:
    return show_time(t, tz)


def _needs_answers(runtime: Runtime, service_name: str, confirmed: bool) -> None:
    spec = next((s.deploy for s in runtime.config.services if s.name == service_name), None)
    has_items = spec is not None and bool(spec.pre_checklist or spec.post_checklist)
    if has_items and not confirmed and not sys.stdin.isatty():
        raise fail(
            "the checklists need answers: run this in a terminal, or pass --confirm (recorded as yours)"
        )


def _walk(work: Coroutine[Any, Any, walk.Outcome]) -> walk.Outcome:
    """Run a walk to its end; the probes' HTTP sessions are closed with it."""

    async def whole() -> walk.Outcome:
        try:
            return await work
        finally:
            await close_sessions()

    return asyncio.run(whole())


def _ended(outcome: walk.Outcome, timezone: str) -> None:
    words = {"succeeded": "succeeded", "failed": "FAILED", "rolled_back": "ROLLED BACK"}
    text = f"deploy #{outcome.deploy_id} {words.get(outcome.status, outcome.status)}"
    if outcome.summary:
        text += f": {outcome.summary}"
    if outcome.restore_seconds is not None:
        text += f" (healthy again {outcome.restore_seconds:.0f}s after the regression was detected)"
    if outcome.incident_id:
        text += f"; incident #{outcome.incident_id} opened"
    console.print(text, markup=False, highlight=False)


@app.command("run", help="Deploy VERSION of SERVICE: checklist, command, verification, rollback.")
def run_cmd(
    service_name: Annotated[str, typer.Argument(metavar="SERVICE", help="The service to deploy.")],
    version: Annotated[str, typer.Argument(help="The version to deploy.")],
    env: EnvOption = None,
    force: Annotated[bool, typer.Option("--force", help="Deploy although frozen (needs --reason).")] = False,
    reason: Annotated[str, typer.Option("--reason", help="Why the freeze does not apply (audited).")] = "",
    confirm: Annotated[
        bool, typer.Option("--confirm", help="Answer every checklist item yes (from CI).")
    ] = False,
    commit: Annotated[str | None, typer.Option("--commit", help="The commit deployed.")] = None,
    committed_at: Annotated[
        str | None, typer.Option("--committed-at", help="Its commit time (lead time).")
    ] = None,
    author: AuthorOption = None,
    config: ConfigOption = None,
) -> None:
    """Deploy VERSION of SERVICE: checklist, command, verification, rollback (exit 0/1/4/5, see module)."""
    actor = cli_actor(author)
    with acting(config) as runtime:
        _needs_answers(runtime, service_name, confirm)
        committed = parse_time(committed_at, runtime, "--committed-at") if committed_at else None
        outcome = _walk(
            walk.deploy(
                runtime,
                actor,
                Terminal(),
                service_name,
                version,
                env,
                force=force,
                reason=reason,
                confirmed=confirm,
                commit=commit,
                committed_at=committed,
            )
        )
        _ended(outcome, runtime.config.timezone)
    raise typer.Exit(outcome.exit_code)


@app.command("rollback")
def rollback_cmd(
    service_name: Annotated[str, typer.Argument(metavar="SERVICE", help="The service to roll back.")],
    env: EnvOption = None,
    author: AuthorOption = None,
    config: ConfigOption = None,
) -> None:
    """Roll SERVICE back to the last version that passed in the environment, and verify it."""
    actor = cli_actor(author)
    with acting(config) as runtime:
        outcome = _walk(walk.rollback(runtime, actor, Terminal(), service_name, env))
        _ended(outcome, runtime.config.timezone)
    raise typer.Exit(outcome.exit_code)


def _table(rows: list[DeployRow], tz: str) -> Table:
    table = Table(show_lines=False)
    for name in ("#", "Service", "Env", "Version", "Status", "By", "Started"):
        table.add_column(name, overflow="fold")
    for row in rows:
        version = row.version if row.kind != "rollback" else f"↩ {row.version}"
        table.add_row(
            str(row.id),
            row.service,
            row.env,
            version,
            row.status.replace("_", " "),
            row.actor,
            _when(row.started_at, tz),
        )
    return table


@app.command("list")
def list_cmd(
    service_name: Annotated[str | None, typer.Option("--service", help="Only this service.")] = None,
    env: Annotated[str | None, typer.Option("--env", help="Only this environment.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="At most this many.")] = 20,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Deploys, rollbacks and recorded changes, newest first."""
    runtime = runtime_or_exit(config, create=False)
    with runtime.sessions() as session:
        rows = queries.list_deploys(session, service=service_name, env=env, limit=limit)
        if as_json:
            typer.echo(json.dumps([queries.deploy_dict(r) for r in rows], indent=2))
            return
        if not rows:
            console.print("no deploys recorded yet")
            return
        console.print(_table(rows, runtime.config.timezone))


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} ms"


def _show_lines(row: DeployRow, tz: str) -> Iterator[str]:
    yield f"deploy #{row.id}: {queries.describe(row)}"
    yield f"status:   {row.status.replace('_', ' ')}" + (f" — {row.summary}" if row.summary else "")
    yield f"versions: {row.previous_version or '(none)'} → {row.version}"
    yield f"started:  {_when(row.started_at, tz)}; ended {_when(row.ended_at, tz)}"
    if row.forced:
        yield f"forced:   {row.force_reason} (past: {'; '.join(row.detail.get('overridden', []))})"
    if row.commit:
        yield f"commit:   {row.commit} at {_when(row.committed_at, tz)}"
    if row.restore_seconds is not None:
        yield (
            f"rollback: to {row.rollback_version}; regression detected {_when(row.regression_at, tz)}, "
            f"healthy again {row.restore_seconds:.0f}s later"
        )
    if row.incident_id:
        yield f"incident: #{row.incident_id}"
    for answer in row.checklist or []:
        mark = "x" if answer.get("done") else " "
        who = f"{answer.get('by')} ({answer.get('how')})"
        yield f"[{mark}] {answer.get('phase')}: {answer.get('item')} — {who}"
    for reason in (row.verdict or {}).get("reasons", []):
        yield f"regression: {reason}"
    for check in (row.verdict or {}).get("checks", []):
        b, w = check["baseline"], check["window"]
        yield (
            f"{check['check']}: error rate {w['error_rate'] * 100:.1f} % "
            f"(baseline {b['error_rate'] * 100:.1f} %), "
            f"p95 {_ms(w['p95_ms'])} (baseline {_ms(b['p95_ms'])}), {w['count']} runs"
        )


@app.command("show")
def show_cmd(
    deploy_id: Annotated[int, typer.Argument(metavar="ID", min=1, help="The deploy's number.")],
    output: Annotated[bool, typer.Option("--output", help="Also print the commands' output.")] = False,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """One deploy: versions, who, checklist answers, the verification's figures, the rollback."""
    runtime = runtime_or_exit(config, create=False)
    with runtime.sessions() as session, cli_errors(runtime):
        row = queries.get_deploy(session, deploy_id)
        if as_json:
            typer.echo(json.dumps({**queries.deploy_dict(row), "output": row.output}, indent=2))
            return
        for line in _show_lines(row, runtime.config.timezone):
            console.print(line, markup=False, highlight=False)
        if output:
            console.print(row.output, markup=False, highlight=False)


@app.command("record")
def record_cmd(
    service_name: Annotated[str, typer.Argument(metavar="SERVICE", help="The service deployed.")],
    version: Annotated[str, typer.Argument(help="The version deployed.")],
    status: Annotated[str, typer.Option("--status", help="succeeded, failed or rolled_back.")] = "succeeded",
    env: EnvOption = None,
    commit: Annotated[str | None, typer.Option("--commit", help="The commit deployed.")] = None,
    committed_at: Annotated[str | None, typer.Option("--committed-at", help="Its commit time.")] = None,
    started: Annotated[str | None, typer.Option("--started", help="When it started (default now).")] = None,
    summary: Annotated[str, typer.Option("--summary", help="What changed.")] = "",
    author: AuthorOption = None,
    config: ConfigOption = None,
) -> None:
    """Record a deploy a CI system made by itself (it counts in reports and shows on charts)."""
    actor = cli_actor(author)
    with acting(config) as runtime:
        change = service.ChangeIn(
            service=service_name,
            version=version,
            env=env or "",
            status=status,
            commit=commit,
            committed_at=parse_time(committed_at, runtime, "--committed-at") if committed_at else None,
            started_at=parse_time(started, runtime, "--started") if started else None,
            summary=summary,
        )
        row = service.record_change(runtime, actor, change, source="cli")
        console.print(f"deploy #{row.id} recorded: {queries.describe(row)}", markup=False, highlight=False)


@app.command("freeze")
def freeze_cmd(
    service_name: Annotated[str, typer.Argument(metavar="SERVICE", help="The service to freeze.")],
    until: Annotated[str, typer.Option("--until", help="A time: +2d, tomorrow 09:00, 2026-03-20T18:00.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (shown when a deploy is refused).")],
    author: AuthorOption = None,
    config: ConfigOption = None,
) -> None:
    """Refuse deploys of SERVICE until a time (a deploy may be forced with --force --reason)."""
    actor = cli_actor(author)
    with acting(config) as runtime:
        end = parse_time(until, runtime, "--until")
        row = service.freeze(runtime, actor, service_name, until=end, reason=reason)
        console.print(
            f"{service_name} frozen until {_when(row.ends_at, runtime.config.timezone)}: {row.reason}",
            markup=False,
            highlight=False,
        )


@app.command("unfreeze")
def unfreeze_cmd(
    service_name: Annotated[str, typer.Argument(metavar="SERVICE", help="The service to unfreeze.")],
    author: AuthorOption = None,
    config: ConfigOption = None,
) -> None:
    """Lift the freezes set by hand on SERVICE (declared freeze windows stay)."""
    actor = cli_actor(author)
    with acting(config) as runtime:
        rows = service.unfreeze(runtime, actor, service_name)
        console.print(f"{service_name}: {len(rows)} freeze(s) lifted", markup=False, highlight=False)


def report_deploys(since: str, as_json: bool, config: str | None) -> None:
    """`opsbook report deploys`: the four DORA figures per service over the period."""
    runtime = runtime_or_exit(config, create=False)
    start = parse_since(since, runtime, "--since")
    now = runtime.clock.now()
    with runtime.sessions() as session:
        rows = dora_report(session, runtime.config, start, now)
    if as_json:
        out: list[dict[str, Any]] = [
            {
                "service": r.service or "all",
                "deployments": r.deployments,
                "per_day": round(r.per_day, 3),
                "lead_time_s": r.lead_time.total_seconds() if r.lead_time else None,
                "change_failure_rate": r.change_failure_rate,
                "failures": r.failures,
                "time_to_restore_s": r.time_to_restore.total_seconds() if r.time_to_restore else None,
            }
            for r in rows
        ]
        typer.echo(json.dumps(out, indent=2))
        return
    table = Table(title=f"Deploys over the last {since} (production)")
    for name in ("Service", "Deploys", "Frequency", "Lead time", "Failure rate", "Restore"):
        table.add_column(name, overflow="fold")
    for r in rows:
        table.add_row(
            r.service or "all",
            str(r.deployments),
            frequency(r),
            show_span(r.lead_time),
            f"{rate(r.change_failure_rate)} ({r.failures})",
            show_span(r.time_to_restore),
        )
    console.print(table)
