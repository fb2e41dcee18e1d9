"""The backups use cases and the DR report.

- `run_drill(runtime, actor, name)`: run a job's restore drill now (the watch runs them on their schedule
  as opsbook itself); the drill, its output and an operations-log entry are recorded in one transaction,
  audited, and announced (`Topic.BACKUPS`), so the watch of a running `opsbook serve` records the drill
  check's result and its rules alert;
- `refresh_listing(runtime, name)`: run a job's list command and make the stored listing what it shows;
- `dr_report(runtime)`: the runbooks' DR table, one row per job: component, RTO target, last measured
  RTO, RPO target, RPO now, last drill, verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from opsbook.auth.roles import Principal, Role
from opsbook.backups import shell, store
from opsbook.backups.assess import Assessment, DrillState, assess, drill_state
from opsbook.backups.config import BackupJob
from opsbook.backups.listing import ListingError, parse_listing
from opsbook.backups.models import BackupJobRow, DrillRow
from opsbook.config.types import format_duration
from opsbook.errors import Invalid, NotFound
from opsbook.events import DomainEvent, Topic, emit
from opsbook.oplog.service import add_entry
from opsbook.runtime import Runtime
from opsbook.usecase import require, transaction

if TYPE_CHECKING:
    from opsbook.backups.drill import DrillOutcome


class NoSuchJob(NotFound):
    pass


def job_of(runtime: Runtime, name: str) -> BackupJob:
    for job in runtime.config.backups:
        if job.name == name:
            return job
    known = ", ".join(j.name for j in runtime.config.backups) or "none configured"
    raise NoSuchJob(f"no backup job {name!r} (known: {known})")


# --- drills ---------------------------------------------------------------------------------------


def run_drill(runtime: Runtime, actor: Principal, name: str, *, trigger: str = "manual") -> DrillRow:
    """Restore the job's newest backup into a scratch target, run its smoke queries, time it, clean up;
    record the drill and an operations-log entry. A failed restore is a recorded drill, not an error."""
    require(actor, Role.RESPONDER)
    job = job_of(runtime, name)
    if job.drill is None:
        raise Invalid(f"backup job {name!r} has no drill: add `drill:` to it in opsbook.yaml")
    from opsbook.backups.drill import run_drill as run_restore  # psycopg: only when a drill runs

    started = runtime.clock.now()
    outcome = run_restore(job, runtime.redact)
    return record_drill(runtime, actor, job, outcome, started, trigger)


def record_drill(runtime: Runtime, actor: Principal, job: BackupJob, outcome: DrillOutcome, started: datetime,
                 trigger: str) -> DrillRow:
    with transaction(runtime, actor, needs=Role.RESPONDER) as tx:
        store.job_rows(tx.session, [job], tx.now)
        rto = job.rto.total_seconds() if job.rto is not None else None
        verdict = "passed" if outcome.ok else "FAILED"
        rto_text = (f"RTO {outcome.rto_s:.1f} s" + (f" against a target of {format_duration(job.rto)}"
                                                     if job.rto else "")) if outcome.rto_s is not None else ""
        entry = add_entry(
            tx.session, now=tx.now, ts=started,
            operation=f"Restore drill of {job.name} ({job.component}): {verdict}",
            operator=actor.name, reason=f"{trigger} restore drill", duration_s=outcome.rto_s,
            impact=f"restored {outcome.restored} into scratch {outcome.scratch or '-'}"
                   + (" (dropped)" if outcome.scratch_dropped else ""),
            issues=outcome.error,
            follow_up="" if outcome.ok else "fix the backup or the restore, then drill again",
            steps=[{**s, "output": runtime.redact(s["output"])} for s in outcome.steps], source="drill",
        )
        if rto_text:
            entry.impact = f"{entry.impact}; {rto_text}"
        tx.session.flush()
        row = DrillRow(
            job=job.name, started_at=started, finished_at=tx.now, ok=outcome.ok, rto_s=outcome.rto_s,
            rto_target_s=rto, restored=outcome.restored, scratch=outcome.scratch,
            scratch_dropped=outcome.scratch_dropped, error=runtime.redact(outcome.error),
            output=runtime.redact(outcome.output)[-20000:], steps=list(entry.steps), trigger=trigger,
            operator=actor.name, oplog_id=entry.id,
        )
        tx.session.add(row)
        tx.session.flush()
        tx.audit("backup.drill", f"backup:{job.name}", drill=row.id, ok=outcome.ok, rto_s=outcome.rto_s)
        detail = {"drill": row.id, "ok": outcome.ok}
        tx.emit(DomainEvent(Topic.BACKUPS, "drilled", f"backup:{job.name}", detail),
                DomainEvent(Topic.OPLOG, "added", f"oplog:{entry.id}"))
        return row


# --- listings -------------------------------------------------------------------------------------


def refresh_listing(runtime: Runtime, name: str) -> int:
    """Run the job's list command (blocking) and store what it shows; returns how many backups are new.
    A failing command or unreadable output is kept as the job's `list_error` (shown in the report)."""
    job = job_of(runtime, name)
    if job.list is None:
        raise Invalid(f"backup job {name!r} has no list command")
    ran = shell.shell(job.list.command, job.list.timeout.total_seconds(), job.list.env)
    error, listed = "", []
    if not ran.ok:
        error = f"list command failed ({ran.error}): {shell.tail(runtime.redact(ran.output), 5, 500)}"
    else:
        try:
            listed = parse_listing(ran.output, job.list)
        except ListingError as exc:
            error = f"list output unreadable: {exc}"
    with runtime.sessions.begin() as session:
        now = runtime.clock.now()
        row = store.job_rows(session, [job], now)[job.name]
        row.listed_at = now
        row.list_error = runtime.redact(error)
        new = 0 if error else store.import_listing(session, job, listed, now)
        emit(session, DomainEvent(Topic.BACKUPS, "listed", f"backup:{job.name}", {"new": new}))
        return new


# --- judging and reporting ------------------------------------------------------------------------


@dataclass(frozen=True)
class JobState:
    job: BackupJob
    watched: BackupJobRow
    assessment: Assessment
    drill: DrillState | None
    last_drill: DrillRow | None


def job_state(session: Session, job: BackupJob, watched: BackupJobRow, now: datetime, zone: str) -> JobState:
    """Everything judged of one job at `now`, from the store; times in its messages in the team's `zone`."""
    backups = store.backups_of(session, job.name)
    assessment = assess(job, backups, watched.watched_since, now, listed=watched.listed_at is not None,
                        zone=zone)
    last = store.last_drill(session, job.name)
    drill = (drill_state(job.drill, job.rto, store.as_drill(last), watched.watched_since, now, zone=zone)
             if job.drill is not None else None)
    return JobState(job, watched, assessment, drill, last)


@dataclass(frozen=True)
class DrRow:
    """One line of the DR table."""

    job: str
    component: str
    rto_target: timedelta | None
    last_rto_s: float | None
    rpo_target: timedelta | None
    rpo_now: timedelta | None
    last_drill: datetime | None
    last_drill_ok: bool | None
    verdict: str
    problems: tuple[str, ...]
    list_error: str


def verdict(state: JobState) -> tuple[str, tuple[str, ...]]:
    problems = state.assessment.problems()
    if state.drill is not None:
        result = state.drill.result()
        if not result.ok:
            problems.append(result.message.splitlines()[0])
    if state.watched.list_error:
        problems.append(state.watched.list_error)
    if problems:
        return "at risk", tuple(problems)
    if state.drill is not None and state.last_drill is None:
        return "not drilled yet", ()
    return "ok", ()


def dr_report(runtime: Runtime) -> list[DrRow]:
    """The DR table: one row per backup job."""
    jobs = runtime.config.backups
    with runtime.sessions.begin() as session:
        now = runtime.clock.now()
        watched = store.job_rows(session, jobs, now)
        out = []
        for job in jobs:
            state = job_state(session, job, watched[job.name], now, runtime.config.timezone)
            word, problems = verdict(state)
            last = state.last_drill
            out.append(DrRow(
                job=job.name, component=job.component, rto_target=job.rto,
                last_rto_s=last.rto_s if last is not None else None, rpo_target=job.rpo,
                rpo_now=state.assessment.rpo_now, last_drill=last.started_at if last is not None else None,
                last_drill_ok=last.ok if last is not None else None, verdict=word, problems=problems,
                list_error=state.watched.list_error,
            ))
        return out
