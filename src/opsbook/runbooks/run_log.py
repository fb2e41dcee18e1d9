"""Closing a run: its final status and its operations log entry (impact, issues and follow-up computed from
the steps when the operator gave none; every command and output redacted)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from opsbook.oplog import service as oplog
from opsbook.oplog.models import OplogEntryRow
from opsbook.redact import redact
from opsbook.runbooks.commands import opsbook_command
from opsbook.runbooks.masking import mask_command
from opsbook.runbooks.models import RunRow, RunStepRow
from opsbook.runbooks.records import FAILED, is_open
from opsbook.words import count

if TYPE_CHECKING:
    from opsbook.config.schema import ServerSettings


def final_status(steps: list[RunStepRow]) -> str:
    return "failed" if any(s.status in FAILED for s in steps) else "succeeded"


def close_run(
    session: Session,
    run: RunRow,
    steps: list[RunStepRow],
    *,
    now: datetime,
    secrets: set[str],
    status: str | None = None,
    server: ServerSettings | None = None,
) -> OplogEntryRow:
    """Close the run (status from its steps unless given) and write or update its oplog entry (`server`:
    how a responder runs opsbook, for the command its follow-up suggests)."""
    run.status = status or final_status(steps)
    run.finished_at = now
    return write_oplog(session, run, steps, now=now, secrets=secrets, server=server)


def _summary(
    run: RunRow, steps: list[RunStepRow], server: ServerSettings | None = None
) -> tuple[str, str, str]:
    """Impact, issues and follow-up computed from the steps (when the operator gave none)."""
    ran = [s for s in steps if s.kind in ("shell", "sql") and s.status in ("succeeded", *FAILED)]
    ok = sum(1 for s in ran if s.status == "succeeded")
    confirmed = sum(1 for s in steps if s.kind in ("confirm", "manual") and s.status == "done")
    skipped = sum(1 for s in steps if s.status == "skipped")
    pending = [s for s in steps if is_open(s) and s.status not in FAILED]
    impact = (
        f"{count(len(ran), 'command')} run ({ok} succeeded, {len(ran) - ok} failed), "
        f"{count(confirmed, 'item')} confirmed, {skipped} skipped; run {run.status}."
    )
    issues = [issue for s in steps if (issue := _issue(s))]
    if run.status == "aborted":
        issues.append(f"aborted with {count(len(pending), 'step')} not done")
    follow: list[str] = []
    if run.status in ("failed", "aborted", "running"):
        follow.append(f"resume with `{opsbook_command(server, 'runbook', 'resume', run.id)}`")
    follow += [f"finish: {s.title}" for s in steps if s.status == "not_done"]
    return impact, "; ".join(issues), "; ".join(follow)


def _issue(step: RunStepRow) -> str:
    label = f"step {step.position + 1} ({step.name})"
    if step.status == "failed":
        if step.exit_code is not None:
            return f"{label} failed with exit code {step.exit_code}"
        return f"{label} failed: {step.note}"
    if step.status == "timed_out":
        return f"{label} timed out and was killed"
    if step.status == "not_done":
        return f"{label} not done: {step.title}"
    if step.status == "refused":
        return f"{label} refused: {step.note}"
    return ""


def write_oplog(
    session: Session,
    run: RunRow,
    steps: list[RunStepRow],
    *,
    now: datetime,
    secrets: set[str],
    server: ServerSettings | None = None,
) -> OplogEntryRow:
    impact, issues, follow = _summary(run, steps, server)
    end = run.finished_at or now
    step_data: list[dict[str, Any]] = [
        {
            "position": s.position,
            "name": s.name,
            "title": s.title,
            "kind": s.kind,
            "status": s.status,
            "command": mask_command(s.command, secrets),
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
