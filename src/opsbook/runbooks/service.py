"""Runs of procedures: their state in the database, one step at a time, and the oplog entry they write.

The terminal walk (interactive.py), the API and unattended remediation all go through `start_run`,
`perform` and `finish_run`, so a run started anywhere can be resumed anywhere: `next_step` is the
first step not yet handled. Every output and command stored is redacted (config secrets and the
values of the environment variables the procedure uses).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from opsbook.auth import audit
from opsbook.auth.roles import SYSTEM
from opsbook.clock import Clock
from opsbook.oplog import service as oplog
from opsbook.oplog.models import OplogEntryRow
from opsbook.redact import redact
from opsbook.runbooks import destructive, executor, placeholders
from opsbook.runbooks.catalog import Catalog, Found, current_catalog
from opsbook.runbooks.config import RunbooksSettings
from opsbook.runbooks.document import Parameter, Procedure, Step
from opsbook.runbooks.models import RunRow, RunStepRow

HANDLED = frozenset({"succeeded", "skipped", "done", "not_done", "shown", "refused"})
FAILED = frozenset({"failed", "timed_out"})
CONTINUED = "continued after failure"
RUN_STATUSES = ("running", "succeeded", "failed", "aborted")


class RunError(Exception):
    """An action that cannot be taken on this run or step."""


class RunNotFound(RunError, LookupError):
    pass


class ConfirmationRequired(RunError):
    """A destructive step is run only when the operator typed its name."""

    def __init__(self, step: Step, reasons: tuple[str, ...]) -> None:
        super().__init__(f"step {step.name!r} is destructive ({', '.join(reasons)}): type its name to run it")
        self.step = step
        self.reasons = reasons


class NotAutomatable(RunError):
    """Unattended runs are only for procedures or steps marked `auto: true`."""


@dataclass
class RunContext:
    """What running steps needs besides the database: settings, the clock, secrets and the environment."""

    settings: RunbooksSettings
    clock: Clock
    secrets: set[str] = field(default_factory=set)
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    cwd: str | None = None


@dataclass(frozen=True)
class StepResult:
    position: int
    name: str
    status: str
    exit_code: int | None = None
    output: str = ""
    duration_s: float | None = None
    message: str = ""


def catalog_for(settings: RunbooksSettings, config_path: str) -> Catalog:
    """The current catalog of the runbook folders, relative to the directory of opsbook.yaml."""
    return current_catalog(settings, Path(config_path).resolve().parent)


def env_values(procedure: Procedure, environ: Mapping[str, str]) -> dict[str, str]:
    """Values of the procedure's `$VARS` found in `environ`."""
    return {p.name: environ[p.name] for p in procedure.parameters if p.kind == "env" and p.name in environ}


def missing_parameters(
    procedure: Procedure, values: Mapping[str, str], env: Mapping[str, str]
) -> list[Parameter]:
    given = {k.lower() for k in values}
    return [
        p
        for p in procedure.parameters
        if (p.kind == "env" and p.name not in env) or (p.kind != "env" and p.name.lower() not in given)
    ]


def normalize_params(procedure: Procedure, values: Mapping[str, str]) -> dict[str, str]:
    """`--param` values keyed by the parameter's name (given by name or token, any case)."""
    out: dict[str, str] = {}
    for key, value in values.items():
        param = procedure.parameter(key)
        if param is None:
            known = ", ".join(p.name for p in procedure.parameters) or "none"
            raise RunError(f"unknown parameter {key!r}; this procedure's parameters: {known}")
        if param.kind == "env":
            raise RunError(f"{param.name} is read from the environment; set it there, not with --param")
        out[param.name] = value
    return out


def _secrets(ctx: RunContext, procedure: Procedure, env: Mapping[str, str]) -> set[str]:
    used = {p.name for p in procedure.parameters if p.kind == "env"}
    return set(ctx.secrets) | {v for k, v in env.items() if k in used}


def filled_command(procedure: Procedure, step: Step, params: Mapping[str, str]) -> str:
    return placeholders.fill(step.command, procedure.parameters, params) if step.runnable else step.command


def start_run(
    session: Session,
    found: Found,
    *,
    now: datetime,
    operator: str,
    params: Mapping[str, str] | None = None,
    incident_id: str | int | None = None,
    reason: str = "",
    impact: str = "",
    follow_up: str = "",
    unattended: bool = False,
    keep_going: bool = False,
    secrets: set[str] | None = None,
) -> RunRow:
    """Record a new run of `found` with one pending row per step (commands stored filled and redacted)."""
    procedure = found.procedure
    values = normalize_params(procedure, params or {})
    run = RunRow(
        runbook=found.entry.path,
        runbook_title=found.entry.runbook.title,
        procedure_ref=found.ref,
        procedure_title=procedure.display,
        procedure=procedure.to_dict(),
        params=values,
        operator=operator,
        incident_id=None if incident_id is None else str(incident_id),
        reason=reason,
        impact=impact,
        follow_up=follow_up,
        status="running",
        unattended=unattended,
        keep_going=keep_going,
        started_at=now,
    )
    session.add(run)
    session.flush()
    for position, step in enumerate(procedure.steps):
        command = redact(filled_command(procedure, step, values), secrets or ())
        session.add(
            RunStepRow(
                run_id=run.id,
                position=position,
                name=step.name,
                title=step.title,
                kind=step.kind,
                command=command,
                status="pending",
            )
        )
    session.flush()
    return run


def get_run(session: Session, run_id: int) -> RunRow:
    run = session.get(RunRow, run_id)
    if run is None:
        raise RunNotFound(f"no run {run_id}")
    return run


def procedure_of(run: RunRow) -> Procedure:
    return Procedure.from_dict(run.procedure)


def steps_of(session: Session, run_id: int) -> list[RunStepRow]:
    query = select(RunStepRow).where(RunStepRow.run_id == run_id).order_by(RunStepRow.position)
    return list(session.scalars(query))


def is_open(row: RunStepRow) -> bool:
    """Not yet handled: pending, interrupted while running, or failed and not gone past."""
    return row.status in ("pending", "running") or (row.status in FAILED and row.note != CONTINUED)


def next_step(steps: list[RunStepRow]) -> RunStepRow | None:
    return next((row for row in steps if is_open(row)), None)


def list_runs(session: Session, *, limit: int = 50, incident_id: str | None = None) -> list[RunRow]:
    query = select(RunRow)
    if incident_id is not None:
        query = query.where(RunRow.incident_id == str(incident_id))
    return list(session.scalars(query.order_by(RunRow.id.desc()).limit(limit)))


def reopen(session: Session, run_id: int) -> RunRow:
    """Make a stopped run (failed, aborted, or left running) resumable again."""
    run = get_run(session, run_id)
    if run.status == "succeeded":
        raise RunError(f"run {run_id} already succeeded; start a new run instead")
    if next_step(steps_of(session, run_id)) is None:
        raise RunError(f"run {run_id} has no step left to do")
    run.status = "running"
    run.finished_at = None
    return run


def step_reasons(procedure: Procedure, step: Step, params: Mapping[str, str]) -> tuple[str, ...]:
    """Why a step is destructive: as written, or once its parameters are filled in."""
    if not step.runnable:
        return ()
    extra = destructive.reasons(filled_command(procedure, step, params))
    return tuple(dict.fromkeys((*step.destructive, *extra)))


async def perform(
    sessions: sessionmaker[Session],
    run_id: int,
    position: int,
    action: str,
    *,
    ctx: RunContext,
    actor: str,
    env: Mapping[str, str] | None = None,
    confirm_name: str | None = None,
    on_output: Callable[[str], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> StepResult:
    """Take `action` (run, skip, done, not_done, continue) on one step of a running run, and record it."""
    with sessions.begin() as session:
        run = get_run(session, run_id)
        if run.status != "running":
            raise RunError(f"run {run_id} is {run.status}; resume it first")
        procedure = procedure_of(run)
        if not 0 <= position < len(procedure.steps):
            raise RunError(f"run {run_id} has no step {position + 1}")
        step = procedure.steps[position]
        row = session.scalar(
            select(RunStepRow).where(RunStepRow.run_id == run_id, RunStepRow.position == position)
        )
        assert row is not None
        params = dict(run.params)
        env_map = dict(env if env is not None else env_values(procedure, ctx.environ))
        secrets = _secrets(ctx, procedure, env_map)
        now = ctx.clock.now()
        if action != "continue" and not is_open(row):
            raise RunError(f"step {position + 1} ({step.name}) is already {row.status}")
        if action == "run":
            if not step.runnable:
                raise RunError(f"step {position + 1} ({step.name}) is a {step.kind} step: it is not run")
            reasons = step_reasons(procedure, step, params)
            if reasons and (confirm_name or "").strip() != step.name:
                raise ConfirmationRequired(step, reasons)
            row.status = "running"
            row.started_at = now
            row.actor = actor
            command = filled_command(procedure, step, params)
        else:
            status = _simple_status(step, row, action)
            if action == "continue":
                row.note = CONTINUED
            else:
                row.status = status
                row.started_at = row.started_at or now
                row.finished_at = now
                row.actor = actor
            return StepResult(position, step.name, row.status)
    outcome = await _execute(step, command, ctx, env_map, secrets, on_output, on_start)
    with sessions.begin() as session:
        row = session.scalar(
            select(RunStepRow).where(RunStepRow.run_id == run_id, RunStepRow.position == position)
        )
        assert row is not None
        row.status = outcome.status
        row.exit_code = outcome.exit_code
        row.output = redact(outcome.output, secrets)
        row.started_at = outcome.started_at
        row.finished_at = outcome.finished_at
        row.duration_s = outcome.duration_s
        row.note = redact(outcome.message, secrets)
        return StepResult(
            position, step.name, row.status, row.exit_code, row.output, row.duration_s, row.note
        )


def _simple_status(step: Step, row: RunStepRow, action: str) -> str:
    if action == "skip":
        return "skipped"
    if action == "done":
        if step.kind == "reference":
            return "shown"
        if step.kind in ("confirm", "manual"):
            return "done"
        raise RunError(f"step {step.name!r} is a command: run it or skip it")
    if action == "not_done":
        if step.kind in ("confirm", "manual"):
            return "not_done"
        raise RunError(f"only checklist and manual steps can be marked not done, not {step.name!r}")
    if action == "continue":
        if row.status not in FAILED:
            raise RunError(f"step {step.name!r} has not failed")
        return row.status
    raise RunError(f"unknown action {action!r}; use run, skip, done, not_done, continue or abort")


async def _execute(
    step: Step,
    command: str,
    ctx: RunContext,
    env: Mapping[str, str],
    secrets: set[str],
    on_output: Callable[[str], None] | None,
    on_start: Callable[[int], None] | None,
) -> executor.Outcome:
    settings = ctx.settings
    timeout = step.timeout or settings.default_timeout.total_seconds()
    sink = on_output or (lambda _text: None)
    if step.kind == "sql":
        target = settings.database_for(step.database)
        if target is None:
            now = ctx.clock.now()
            wanted = f"database {step.database!r}" if step.database else "a database"
            message = f"no {wanted} for SQL steps: declare it under runbooks.databases (or default_database)"
            sink(message + "\n")
            return executor.Outcome("failed", None, message + "\n", now, now, message)
        return await executor.run_sql(
            command,
            target[1],
            clock=ctx.clock,
            timeout=timeout,
            on_output=sink,
            output_limit=settings.output_limit,
        )
    full_env = {**ctx.environ, **env}
    return await executor.run_shell(
        command,
        clock=ctx.clock,
        timeout=timeout,
        shell=settings.shell,
        env=full_env,
        on_output=sink,
        on_start=on_start,
        output_limit=settings.output_limit,
        kill_grace=settings.kill_grace.total_seconds(),
        cwd=ctx.cwd,
    )


def final_status(steps: list[RunStepRow]) -> str:
    return "failed" if any(s.status in FAILED for s in steps) else "succeeded"


def finish_run(
    session: Session,
    run_id: int,
    *,
    now: datetime,
    status: str | None = None,
    secrets: set[str] | None = None,
) -> OplogEntryRow:
    """Close the run (status from its steps unless given) and write or update its oplog entry."""
    run = get_run(session, run_id)
    steps = steps_of(session, run_id)
    run.status = status or final_status(steps)
    run.finished_at = now
    return write_oplog(session, run, steps, now=now, secrets=secrets or set())


def _summary(run: RunRow, steps: list[RunStepRow]) -> tuple[str, str, str]:
    """Impact, issues and follow-up computed from the steps (when the operator gave none)."""
    ran = [s for s in steps if s.kind in ("shell", "sql") and s.status in ("succeeded", *FAILED)]
    ok = sum(1 for s in ran if s.status == "succeeded")
    confirmed = sum(1 for s in steps if s.kind in ("confirm", "manual") and s.status == "done")
    skipped = sum(1 for s in steps if s.status == "skipped")
    pending = [s for s in steps if is_open(s) and s.status not in FAILED]
    impact = (
        f"{len(ran)} command(s) run ({ok} succeeded, {len(ran) - ok} failed), "
        f"{confirmed} item(s) confirmed, {skipped} skipped; run {run.status}."
    )
    issues: list[str] = []
    for s in steps:
        label = f"step {s.position + 1} ({s.name})"
        if s.status == "failed":
            issues.append(
                f"{label} failed with exit code {s.exit_code}"
                if s.exit_code is not None
                else f"{label} failed: {s.note}"
            )
        elif s.status == "timed_out":
            issues.append(f"{label} timed out and was killed")
        elif s.status == "not_done":
            issues.append(f"{label} not done: {s.title}")
        elif s.status == "refused":
            issues.append(f"{label} refused: {s.note}")
    if run.status == "aborted":
        issues.append(f"aborted with {len(pending)} step(s) not done")
    follow: list[str] = []
    if run.status in ("failed", "aborted", "running"):
        follow.append(f"resume with `opsbook runbook resume {run.id}`")
    follow += [f"finish: {s.title}" for s in steps if s.status == "not_done"]
    return impact, "; ".join(issues), "; ".join(follow)


def write_oplog(
    session: Session,
    run: RunRow,
    steps: list[RunStepRow],
    *,
    now: datetime,
    secrets: set[str],
) -> OplogEntryRow:
    impact, issues, follow = _summary(run, steps)
    end = run.finished_at or now
    step_data: list[dict[str, Any]] = [
        {
            "position": s.position,
            "name": s.name,
            "title": s.title,
            "kind": s.kind,
            "status": s.status,
            "command": redact(s.command, secrets),
            "exit_code": s.exit_code,
            "duration_s": s.duration_s,
            "output": redact(s.output, secrets),
            "note": redact(s.note, secrets),
            "actor": s.actor,
            "started_at": s.started_at.isoformat() if s.started_at else None,
        }
        for s in steps
    ]
    source = run.runbook_title or run.runbook
    operation = f'Ran runbook procedure "{run.procedure_title}" ({source}), run #{run.id}'
    reason = run.reason or (f"Incident {run.incident_id}" if run.incident_id else "")
    fields: dict[str, Any] = {
        "ts": run.started_at,
        "operation": operation,
        "reason": redact(reason, secrets),
        "impact": redact(run.impact or impact, secrets),
        "duration_s": (end - run.started_at).total_seconds(),
        "issues": issues,
        "follow_up": redact("; ".join(x for x in (run.follow_up, follow) if x), secrets),
        "operator": run.operator,
        "incident_id": run.incident_id,
        "steps": step_data,
    }
    entry = oplog.entry_for_run(session, run.id)
    if entry is None:
        kind = "unattended" if run.unattended else "run"
        return oplog.add_entry(session, now=now, run_id=run.id, source=kind, **fields)
    for key, value in fields.items():
        setattr(entry, key, value)
    return entry


def run_dict(run: RunRow, steps: list[RunStepRow] | None = None) -> dict[str, Any]:
    """A run as plain data (API, --json); params shown are the non-secret ones only."""
    data: dict[str, Any] = {
        "id": run.id,
        "procedure": run.procedure_title,
        "ref": run.procedure_ref,
        "runbook": run.runbook,
        "status": run.status,
        "operator": run.operator,
        "incident_id": run.incident_id,
        "reason": run.reason,
        "params": run.params,
        "unattended": run.unattended,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }
    if steps is not None:
        data["steps"] = [
            {
                "position": s.position,
                "name": s.name,
                "title": s.title,
                "kind": s.kind,
                "status": s.status,
                "command": s.command,
                "exit_code": s.exit_code,
                "duration_s": s.duration_s,
                "output": s.output,
                "note": s.note,
            }
            for s in steps
        ]
        nxt = next_step(steps)
        data["next_step"] = nxt.position if nxt is not None else None
    return data


def may_run_unattended(procedure: Procedure, step: Step) -> bool:
    """Only command steps of a procedure marked auto, or steps marked auto themselves; never `confirm=true`
    steps, and a destructive step only when it is marked auto itself."""
    if not step.runnable or step.confirm or not (step.auto or procedure.auto):
        return False
    return step.auto or not step.destructive


async def run_unattended(
    sessions: sessionmaker[Session],
    found: Found,
    *,
    ctx: RunContext,
    params: Mapping[str, str] | None = None,
    incident_id: str | int | None = None,
    reason: str = "",
    operator: str = "opsbook",
) -> int:
    """Run a procedure as automated remediation (for the alerting layer); returns the run id.

    Raises NotAutomatable when nothing in it is marked `auto: true`. Steps that are not allowed to run
    unattended are refused (recorded as such, never run); a failed step stops the run.
    """
    procedure = found.procedure
    if not any(may_run_unattended(procedure, s) for s in procedure.steps):
        raise NotAutomatable(f"{procedure.display!r} has no step marked auto: it is never run unattended")
    values = normalize_params(procedure, params or {})
    missing = [p.name for p in missing_parameters(procedure, values, {}) if p.kind != "env"]
    if missing:
        raise RunError(f"unattended run of {procedure.display!r} lacks parameters: {', '.join(missing)}")
    env = env_values(procedure, ctx.environ)
    secrets = _secrets(ctx, procedure, env)
    with sessions.begin() as session:
        run = start_run(
            session,
            found,
            now=ctx.clock.now(),
            operator=operator,
            params=values,
            incident_id=incident_id,
            reason=reason,
            unattended=True,
            secrets=secrets,
        )
        audit.record(
            session,
            ctx.clock.now(),
            SYSTEM,
            "runbook.run.unattended",
            found.ref,
            run_id=run.id,
            incident_id=None if incident_id is None else str(incident_id),
        )
        run_id = run.id
    for position, step in enumerate(procedure.steps):
        if step.kind == "reference":
            await perform(sessions, run_id, position, "done", ctx=ctx, actor=operator, env=env)
        elif may_run_unattended(procedure, step):
            result = await perform(
                sessions, run_id, position, "run", ctx=ctx, actor=operator, env=env, confirm_name=step.name
            )
            if result.status in FAILED:
                break
        else:
            with sessions.begin() as session:
                row = session.scalar(
                    select(RunStepRow).where(RunStepRow.run_id == run_id, RunStepRow.position == position)
                )
                assert row is not None
                row.status = "refused"
                row.note = "needs an operator: not marked auto"
                row.actor = operator
    with sessions.begin() as session:
        finish_run(session, run_id, now=ctx.clock.now(), secrets=secrets)
    return run_id


def first_steps(procedure: Procedure, count: int = 3) -> list[str]:
    """The first actionable steps as one-line texts, for a notification that links its runbook."""
    out: list[str] = []
    for step in procedure.steps:
        if not step.actionable:
            continue
        text = step.title
        if step.runnable and step.command and step.command.splitlines()[0] != step.title:
            text += f": {step.command.splitlines()[0]}"
        out.append(text)
        if len(out) == count:
            break
    return out


def procedure_link(found: Found, base_url: str) -> str:
    """Where a procedure is shown over HTTP (the API path; the web UI may mount a page there later)."""
    return f"{base_url.rstrip('/')}/api/v1/procedures/{found.ref}"
