"""Maintenance tasks in their windows: what would run (`plan`, for `opsbook pg maintain --dry-run`) and
running what is due (`run_due`, the pipeline's maintenance loop and `opsbook pg maintain`).

Every firing of a task's schedule gets one row in `pg_maintenance_runs`: `running` is claimed first (a
unique key per task and firing, so two processes never run it twice), then `ok` or `failed` with its
duration; a firing whose window closed before it could run is `missed`. Each run writes an operations
log entry (statements, durations, errors). A failure raises an alert (`maintenance-failed:TASK`, the
task's severity, on the check's service); the last two firings without success raise
`maintenance-overdue:TASK`; a successful run resolves both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from opsbook.alerts.external import ExternalEvent, apply_external
from opsbook.alerts.state import ExternalAction
from opsbook.alerts.types import AlertTransition
from opsbook.checks.kinds.postgres import PostgresCheck
from opsbook.oplog.service import add_entry
from opsbook.postgres.config import MaintenanceTask
from opsbook.postgres.maintenance import Decision, decide, next_firing, schedule
from opsbook.postgres.models import MaintenanceRunRow
from opsbook.postgres.runner import Outcome, execute
from opsbook.runtime import Runtime
from opsbook.silences.windows import RecurringWindow
from opsbook.timefmt import show_time

SOURCE = "postgres"
Hooks = Callable[[Session, Sequence[AlertTransition], datetime], None]
"""What every alert change goes through (the pipeline's run_hooks: mute, notify, incidents)."""


@dataclass(frozen=True)
class PlanRow:
    task: MaintenanceTask
    window: RecurringWindow
    due: datetime | None  # the firing that would run now
    statement_timeout: timedelta  # as it would be set now (capped at the window's end)
    next_at: datetime
    last: MaintenanceRunRow | None


@dataclass(frozen=True)
class TaskRun:
    task: str
    scheduled_for: datetime
    outcome: str
    duration_s: float | None
    error: str = ""


def _window(runtime: Runtime, task: MaintenanceTask) -> RecurringWindow:
    return next(w for w in runtime.config.maintenance_windows if w.name == task.window).to_window()


def _last(session: Session, task: str) -> MaintenanceRunRow | None:
    return session.scalars(
        select(MaintenanceRunRow).where(MaintenanceRunRow.task == task)
        .order_by(MaintenanceRunRow.scheduled_for.desc()).limit(1)
    ).first()


def _decide(session: Session, task: MaintenanceTask, window: RecurringWindow, now: datetime) -> Decision:
    last = _last(session, task.name)
    after = last.scheduled_for if last else now - window.duration  # first sight: firings still in a window
    return decide(schedule(task.name, task.cron, task.timezone), window, after, now)


def plan(runtime: Runtime) -> list[PlanRow]:
    """Every task: the firing due now (if any), the guard it would get, the next firing, the last run."""
    rows: list[PlanRow] = []
    with runtime.sessions() as session:
        now = runtime.clock.now()
        for task in runtime.config.postgres.maintenance:
            window = _window(runtime, task)
            decision = _decide(session, task, window, now)
            guard = decision.statement_timeout(task.statement_timeout, now)
            rows.append(PlanRow(task, window, decision.due, guard,
                                next_firing(schedule(task.name, task.cron, task.timezone), now),
                                _last(session, task.name)))
    return rows


def run_due(runtime: Runtime, hooks: Hooks) -> tuple[list[TaskRun], datetime | None]:
    """Run every task whose firing is due now inside its window; record missed firings; alert. Returns
    what was done and when to look again (the next firing of any task)."""
    done: list[TaskRun] = []
    wake: datetime | None = None
    checks = runtime.config.checks()
    for task in runtime.config.postgres.maintenance:
        window = _window(runtime, task)
        sched = schedule(task.name, task.cron, task.timezone)
        done += _run_task(runtime, task, window, checks[task.check], hooks)
        upcoming = next_firing(sched, runtime.clock.now())
        wake = upcoming if wake is None else min(wake, upcoming)
    return done, wake


def _run_task(runtime: Runtime, task: MaintenanceTask, window: RecurringWindow, spec: PostgresCheck,
              hooks: Hooks) -> list[TaskRun]:
    done: list[TaskRun] = []
    with runtime.sessions.begin() as session:
        now = runtime.clock.now()
        decision = _decide(session, task, window, now)
        for fired in decision.missed:
            session.add(MaintenanceRunRow(task=task.name, scheduled_for=fired, outcome="missed", error=""))
            done.append(TaskRun(task.name, fired, "missed", None, "its window closed before it ran"))
        session.flush()
        hooks(session, _overdue(session, task, now, runtime.config.timezone), now)
    if decision.due is None:
        return done
    claimed = _claim(runtime, task, decision.due, now)
    if claimed is None:
        return done  # another process runs it
    guard = decision.statement_timeout(task.statement_timeout, now)
    outcome = execute(spec, task.sql, task.lock_timeout, guard)
    done.append(_record(runtime, task, claimed, outcome, window, hooks))
    return done


def _claim(runtime: Runtime, task: MaintenanceTask, fired: datetime, now: datetime) -> int | None:
    try:
        with runtime.sessions.begin() as session:
            row = MaintenanceRunRow(
                task=task.name, scheduled_for=fired, started_at=now, outcome="running", error=""
            )
            session.add(row)
            session.flush()
            return row.id
    except IntegrityError:
        return None


def _record(runtime: Runtime, task: MaintenanceTask, run_id: int, outcome: Outcome, window: RecurringWindow,
            hooks: Hooks) -> TaskRun:
    with runtime.sessions.begin() as session:
        now = runtime.clock.now()
        row = session.get(MaintenanceRunRow, run_id)
        assert row is not None
        row.finished_at = now
        row.duration_s = round(outcome.duration_s, 3)
        row.outcome = "ok" if outcome.ok else "failed"
        row.error = outcome.error[:2000]
        entry = add_entry(
            session, now=now, ts=row.started_at,
            operation=f"PostgreSQL maintenance {task.name} on {task.check}",
            operator="opsbook", source="maintenance", duration_s=row.duration_s, steps=outcome.steps,
            reason=task.description
            or f"scheduled '{task.cron}' ({task.timezone}) in the window {window.name}",
            impact="" if outcome.ok else "the maintenance did not complete",
            issues=outcome.error, follow_up="" if outcome.ok else "see the alert; run it in the next window",
        )
        row.oplog_id = entry.id
        hooks(session, _alerts(session, task, row, now), now)
        return TaskRun(task.name, row.scheduled_for, row.outcome, row.duration_s, row.error)


def _event(task: MaintenanceTask, kind: str, action: ExternalAction, summary: str) -> ExternalEvent:
    return ExternalEvent(SOURCE, f"maintenance-{kind}:{task.name}", action, task.check.split("/")[0],
                         task.severity, summary, check_id=task.check)


def _alerts(session: Session, task: MaintenanceTask, row: MaintenanceRunRow, now: datetime
            ) -> list[AlertTransition]:
    if row.outcome == "failed":
        summary = f"maintenance task {task.name} failed on {task.check}: {row.error}"[:1000]
        return apply_external(session, _event(task, "failed", ExternalAction.TRIGGER, summary), now)
    done = f"maintenance task {task.name} ran in {row.duration_s:.1f} s"
    return [
        *apply_external(session, _event(task, "failed", ExternalAction.RESOLVE, done), now),
        *apply_external(session, _event(task, "overdue", ExternalAction.RESOLVE, done), now),
    ]


def _overdue(session: Session, task: MaintenanceTask, now: datetime, zone: str) -> list[AlertTransition]:
    """Alert when the last two firings (whose windows closed) brought no successful run; the last run's
    time said in the team's `zone`."""
    recent = session.scalars(
        select(MaintenanceRunRow.outcome).where(MaintenanceRunRow.task == task.name,
                                                MaintenanceRunRow.outcome != "running")
        .order_by(MaintenanceRunRow.scheduled_for.desc()).limit(2)
    ).all()
    if len(recent) < 2 or "ok" in recent:
        return []
    last_ok = session.scalar(
        select(func.max(MaintenanceRunRow.started_at))
        .where(MaintenanceRunRow.task == task.name, MaintenanceRunRow.outcome == "ok")
    )
    since = f"last ran {show_time(last_ok, zone)}" if last_ok else "it has never run"
    summary = f"maintenance task {task.name} on {task.check} has not run for two periods ({since})"
    return apply_external(session, _event(task, "overdue", ExternalAction.TRIGGER, summary), now)
