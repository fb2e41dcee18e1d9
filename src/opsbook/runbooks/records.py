"""The record of runs in the database: a run with one row per step, which step is next, and what each step
action writes. Plain functions over a session, inside the caller's transaction (the use cases in
`service.py` own the transactions)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.redact import redact
from opsbook.runbooks.catalog import Found
from opsbook.runbooks.document import Procedure, Step
from opsbook.runbooks.errors import RunError, RunNotFound
from opsbook.runbooks.executor import Outcome
from opsbook.runbooks.masking import mask_command, written_secrets
from opsbook.runbooks.models import RunRow, RunStepRow
from opsbook.runbooks.params import filled_command

FAILED = frozenset({"failed", "timed_out"})
MASKED = "masked_steps"
CONTINUED = "continued after failure"


def new_run(
    session: Session,
    found: Found,
    *,
    now: datetime,
    operator: str,
    params: Mapping[str, str],
    incident_id: str | int | None = None,
    reason: str = "",
    impact: str = "",
    follow_up: str = "",
    unattended: bool = False,
    keep_going: bool = False,
    secrets: set[str],
) -> RunRow:
    """Record a new run of `found` with one pending row per step (commands stored filled and redacted)."""
    procedure = found.procedure
    written = {value for step in procedure.steps for value in written_secrets(step.command)}
    run = RunRow(
        runbook=found.entry.path,
        runbook_title=found.entry.runbook.title,
        procedure_ref=found.ref,
        procedure_title=procedure.display,
        procedure=masked_snapshot(procedure),
        params=dict(params),
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
        session.add(
            RunStepRow(
                run_id=run.id,
                position=position,
                name=step.name,
                title=step.title,
                kind=step.kind,
                command=mask_command(filled_command(procedure, step, params), secrets | written),
                status="pending",
            )
        )
    session.flush()
    return run


def masked_snapshot(procedure: Procedure) -> dict[str, Any]:
    """The procedure as the run keeps it: secrets written in commands masked, the masked steps listed (the
    command they run is read again from the runbook: see `real_command`)."""
    data = procedure.to_dict()
    written = {value for step in procedure.steps for value in written_secrets(step.command)}
    masked: list[int] = []
    for position, step in enumerate(data["steps"]):
        shown = mask_command(step["command"], written)
        if shown != step["command"]:
            step["command"] = shown
            masked.append(position)
    data[MASKED] = masked
    return data


def _masked_steps(procedure: Procedure) -> list[str]:
    return [str(step["command"]) for step in masked_snapshot(procedure)["steps"]]


def is_masked(run: RunRow, position: int) -> bool:
    """Whether the run's copy of step `position` has a secret masked in its command."""
    return position in run.procedure.get(MASKED, ())


def real_command(run: RunRow, position: int, current: Procedure) -> Step:
    """The step as the runbook holds it now (`current`), for a step whose secret the run did not keep;
    RunError when the runbook changed that step since the run started."""
    kept = procedure_of(run).steps[position]
    shown = dict(zip((step.name for step in current.steps), _masked_steps(current), strict=True))
    for step in current.steps:
        if step.name == kept.name and shown[step.name] == kept.command:
            return step
    raise RunError(
        f"step {position + 1} ({kept.name}) has a secret in its command, which runs do not keep, and the "
        "runbook changed it since this run started: start a new run"
    )


def get_run(session: Session, run_id: int) -> RunRow:
    run = session.get(RunRow, run_id)
    if run is None:
        raise RunNotFound(f"no run {run_id}")
    return run


def procedure_of(run: RunRow) -> Procedure:
    """The procedure as it was when the run started (the Markdown may have changed since)."""
    return Procedure.from_dict(run.procedure)


def steps_of(session: Session, run_id: int) -> list[RunStepRow]:
    query = select(RunStepRow).where(RunStepRow.run_id == run_id).order_by(RunStepRow.position)
    return list(session.scalars(query))


def list_runs(
    session: Session, *, limit: int = 50, incident_id: str | None = None, procedure_ref: str | None = None
) -> list[RunRow]:
    """Newest first; only those for an incident, or of a procedure (by ref), if given."""
    query = select(RunRow)
    if incident_id is not None:
        query = query.where(RunRow.incident_id == str(incident_id))
    if procedure_ref is not None:
        query = query.where(RunRow.procedure_ref == procedure_ref)
    return list(session.scalars(query.order_by(RunRow.id.desc()).limit(limit)))


def is_open(row: RunStepRow) -> bool:
    """Not yet handled: pending, interrupted while running, or failed and not gone past."""
    return row.status in ("pending", "running") or (row.status in FAILED and row.note != CONTINUED)


def next_step(steps: list[RunStepRow]) -> RunStepRow | None:
    return next((row for row in steps if is_open(row)), None)


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


def open_step(session: Session, run: RunRow, position: int, action: str) -> tuple[Step, RunStepRow]:
    """The step at `position` of a running run and its row, refusing one already handled (unless the
    action is to go past a failure)."""
    if run.status != "running":
        raise RunError(f"run {run.id} is {run.status}; resume it first")
    procedure = procedure_of(run)
    if not 0 <= position < len(procedure.steps):
        raise RunError(f"run {run.id} has no step {position + 1}")
    step = procedure.steps[position]
    row = step_row(session, run.id, position)
    if action != "continue" and not is_open(row):
        raise RunError(f"step {position + 1} ({step.name}) is already {row.status}")
    return step, row


def step_row(session: Session, run_id: int, position: int) -> RunStepRow:
    row = session.scalar(
        select(RunStepRow).where(RunStepRow.run_id == run_id, RunStepRow.position == position)
    )
    if row is None:
        raise RunNotFound(f"run {run_id} has no step {position + 1}")
    return row


def mark(row: RunStepRow, status: str, now: datetime, actor: str, note: str = "") -> None:
    """A step handled without running anything: done, not done, skipped, shown, refused."""
    row.status = status
    row.started_at = row.started_at or now
    row.finished_at = now
    row.actor = actor
    if note:
        row.note = note


def go_past(row: RunStepRow) -> None:
    """Leave a failed step failed, and go on with the next one."""
    if row.status not in FAILED:
        raise RunError(f"step {row.name!r} has not failed")
    row.note = CONTINUED


def mark_running(row: RunStepRow, now: datetime, actor: str) -> None:
    row.status = "running"
    row.started_at = now
    row.actor = actor


def record_outcome(row: RunStepRow, outcome: Outcome, secrets: set[str]) -> None:
    row.status = outcome.status
    row.exit_code = outcome.exit_code
    row.output = redact(outcome.output, secrets)
    row.started_at = outcome.started_at
    row.finished_at = outcome.finished_at
    row.duration_s = outcome.duration_s
    row.note = redact(outcome.message, secrets)
