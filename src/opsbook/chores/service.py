"""Recurring chores as use cases: fall due (and tell the assignee), be done by a run of the procedure or
by hand, be skipped with a reason, go overdue (an alert through the alert machinery).

`sync` is what the chore watch does each round, as opsbook itself: for every chore of the config, the
latest instant its schedule fired becomes a due occurrence (once; the assignee is the user, or whoever is
on call on the schedule then) and the assignee is sent a `ChoreReminder`; an open occurrence is done by a
successful run of its procedure started since it fell due whose checklist items were all checked; one
still open at its deadline goes overdue and raises an external alert (`chores` service, source `chores`)
that marking it done or skipped resolves. Done occurrences are written to the operations log.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.alerts.external import ExternalEvent, apply_external
from opsbook.alerts.state import ExternalAction
from opsbook.alerts.types import AlertTransition
from opsbook.auth.roles import SYSTEM, Principal, Role
from opsbook.chores.config import ChoreConfig
from opsbook.chores.models import DONE, DUE, OPEN, OVERDUE, SKIPPED, ChoreDueRow
from opsbook.chores.schedule import last_due, next_due
from opsbook.errors import Conflict, Invalid, NotFound
from opsbook.events import DomainEvent, Topic
from opsbook.notify.messages import ChoreReminder
from opsbook.notify.service import send
from opsbook.oncall.service import on_call
from opsbook.oplog import service as oplog
from opsbook.rules.severity import Severity
from opsbook.runbooks.catalog import ProcedureNotFound
from opsbook.runbooks.models import RunRow, RunStepRow
from opsbook.runbooks.service import find_procedure
from opsbook.runtime import Runtime
from opsbook.secrets.alerting import deliver
from opsbook.timefmt import show_time
from opsbook.usecase import Tx, transaction

SERVICE = "chores"
SOURCE = "chores"
Hooks = Callable[[Session, Sequence[AlertTransition], datetime], None]
"""What every alert change goes through (mute, notify, incidents): the pipeline's `run_hooks`."""


def alert_hooks(runtime: Runtime) -> Hooks:
    """The same path outside the pipeline (the CLI, the API): mute, notify, open or join incidents."""

    def hooks(session: Session, transitions: Sequence[AlertTransition], now: datetime) -> None:
        deliver(runtime, session, transitions, now)

    return hooks


@dataclass(frozen=True)
class ChoreView:
    """A chore of the config with its open occurrence (if any) and when it next falls due."""

    config: ChoreConfig
    open: ChoreDueRow | None
    next_due: datetime


def assignee_label(chore: ChoreConfig) -> str:
    """Who the chore is for, in words: `on call: primary` or the user."""
    return f"on call: {chore.oncall}" if chore.oncall is not None else str(chore.user)


def _zone(runtime: Runtime, chore: ChoreConfig) -> str:
    return chore.timezone or runtime.config.timezone


def _assignee(session: Session, runtime: Runtime, chore: ChoreConfig, at: datetime) -> str | None:
    if chore.user is not None:
        return chore.user
    assert chore.oncall is not None
    return on_call(session, runtime.config, chore.oncall, at)


def _procedure_ref(runtime: Runtime, chore: ChoreConfig) -> str | None:
    try:
        return find_procedure(runtime, chore.procedure).ref
    except ProcedureNotFound:
        return None


def _subject(row: ChoreDueRow) -> str:
    return f"chore:{row.id}"


# --- the watch's round -------------------------------------------------------------------------------


def sync(runtime: Runtime, hooks: Hooks) -> datetime | None:
    """Bring every chore up to now (due, reminded, done by a run, overdue); when to look again."""
    wakes: list[datetime] = []
    with transaction(runtime, SYSTEM) as tx:
        for chore in runtime.config.chores:
            _fall_due(tx, runtime, chore)
            ref = _procedure_ref(runtime, chore)
            for row in _open_rows(tx.session, chore.name):
                run = _finishing_run(tx.session, ref, row) if ref is not None else None
                if run is not None:
                    _close(tx, runtime, hooks, row, DONE, run.operator, "", run)
                elif row.status == DUE and tx.now >= row.deadline:
                    _go_overdue(tx, runtime, hooks, chore, row)
                elif row.status == DUE:
                    wakes.append(row.deadline)
            wakes.append(next_due(chore.schedule, _zone(runtime, chore), tx.now))
    return min(wakes) if wakes else None


def _open_rows(session: Session, chore: str) -> list[ChoreDueRow]:
    query = select(ChoreDueRow).where(ChoreDueRow.chore == chore, ChoreDueRow.status.in_(OPEN))
    return list(session.scalars(query.order_by(ChoreDueRow.due_at)))


def _fall_due(tx: Tx, runtime: Runtime, chore: ChoreConfig) -> None:
    """Record the latest instant the chore fell due (once), and tell its assignee. A first occurrence
    whose time to do it had passed before opsbook knew the chore is not raised after the fact."""
    due = last_due(chore.schedule, _zone(runtime, chore), tx.now)
    session = tx.session
    latest = session.scalar(
        select(ChoreDueRow.due_at).where(ChoreDueRow.chore == chore.name).order_by(ChoreDueRow.due_at.desc())
    )
    if latest is not None and latest >= due:
        return
    if latest is None and due + chore.within <= tx.now:
        return
    row = ChoreDueRow(
        chore=chore.name, procedure=chore.procedure, due_at=due, deadline=due + chore.within,
        assignee=_assignee(session, runtime, chore, due), status=DUE, reason="",
    )
    session.add(row)
    session.flush()
    if row.assignee is not None:
        link = runtime.config.base_url.rstrip("/") + "/ui/chores"
        send(session, runtime.config, ChoreReminder(
            chore=chore.name, due_id=row.id, assignee=row.assignee, procedure=chore.procedure,
            severity=chore.reminder_severity.value, due_at=row.due_at, deadline=row.deadline, link=link,
        ), tx.now)
        row.reminded_at = tx.now
    tx.emit(DomainEvent(Topic.CHORES, "due", _subject(row), {"chore": chore.name}))


def _finishing_run(session: Session, ref: str, row: ChoreDueRow) -> RunRow | None:
    """A succeeded run of the chore's procedure started since it fell due, every checklist item checked."""
    runs = session.scalars(
        select(RunRow).where(
            RunRow.procedure_ref == ref, RunRow.status == "succeeded", RunRow.started_at >= row.due_at
        ).order_by(RunRow.finished_at)
    )
    for run in runs:
        unchecked = session.scalar(
            select(RunStepRow.id).where(
                RunStepRow.run_id == run.id, RunStepRow.kind == "confirm", RunStepRow.status != "done"
            ).limit(1)
        )
        if unchecked is None:
            return run
    return None


def _event(
    chore: str, row: ChoreDueRow, action: ExternalAction, summary: str, severity: Severity
) -> ExternalEvent:
    return ExternalEvent(
        SOURCE, f"overdue:{chore}", action, SERVICE, severity, summary,
        labels={"chore": chore, "assignee": row.assignee or "nobody"}, runbook=row.procedure,
        check_id=f"{SERVICE}/{chore}",
    )


def _go_overdue(tx: Tx, runtime: Runtime, hooks: Hooks, chore: ChoreConfig, row: ChoreDueRow) -> None:
    row.status = OVERDUE
    row.overdue_at = tx.now
    who = row.assignee or f"the on-call of {chore.oncall} (nobody was)"
    by = show_time(row.deadline, runtime.config.timezone)
    summary = f"Chore {chore.name} overdue: {who} was to do it by {by}"
    event = _event(chore.name, row, ExternalAction.TRIGGER, summary, Severity(chore.overdue_severity))
    hooks(tx.session, apply_external(tx.session, event, tx.now), tx.now)
    tx.emit(DomainEvent(Topic.CHORES, "overdue", _subject(row), {"chore": chore.name}))


def _close(
    tx: Tx, runtime: Runtime, hooks: Hooks, row: ChoreDueRow, status: str, actor: str, reason: str,
    run: RunRow | None = None,
) -> None:
    """Done or skipped: recorded, the overdue alert resolved, a done one written to the operations log."""
    was_overdue = row.status == OVERDUE
    row.status, row.closed_at, row.closed_by, row.reason = status, tx.now, actor, reason
    if run is not None:
        row.run_id = run.id
    if was_overdue:
        note = f"chore {row.chore} {status} by {actor}"
        configured = [c for c in runtime.config.chores if c.name == row.chore]
        severity = Severity(configured[0].overdue_severity) if configured else Severity.P3
        event = _event(row.chore, row, ExternalAction.RESOLVE, note, severity)
        hooks(tx.session, apply_external(tx.session, event, tx.now), tx.now)
    if status == DONE:
        how = f"by runbook run #{run.id}" if run is not None else "marked done by hand"
        entry = oplog.add_entry(
            tx.session, now=tx.now, operation=f'Chore "{row.chore}" done ({row.procedure})',
            operator=actor, reason=f"due {show_time(row.due_at, runtime.config.timezone)}; {how}",
            impact=reason or ("late: it was overdue" if was_overdue else "on time"),
            duration_s=((run.finished_at or tx.now) - run.started_at).total_seconds() if run else None,
        )
        tx.session.flush()
        row.oplog_entry = entry.id
    tx.emit(DomainEvent(Topic.CHORES, status, _subject(row), {"chore": row.chore}))


# --- people's use cases ------------------------------------------------------------------------------


def _open_row(session: Session, due_id: int) -> ChoreDueRow:
    row = session.get(ChoreDueRow, due_id)
    if row is None:
        raise NotFound(f"no chore occurrence {due_id} (see opsbook chore list)")
    if row.status not in OPEN:
        raise Conflict(f"chore occurrence {due_id} ({row.chore}) is already {row.status}")
    return row


def mark_done(
    runtime: Runtime, actor: Principal, due_id: int, note: str = "", hooks: Hooks | None = None
) -> ChoreDueRow:
    """The chore was done another way than by a run of its procedure."""
    with transaction(runtime, actor, needs=Role.RESPONDER) as tx:
        row = _open_row(tx.session, due_id)
        _close(tx, runtime, hooks or alert_hooks(runtime), row, DONE, actor.name, note.strip())
        tx.audit("chore.done", _subject(row), chore=row.chore, oplog_entry=row.oplog_entry)
        return row


def skip(
    runtime: Runtime, actor: Principal, due_id: int, reason: str, hooks: Hooks | None = None
) -> ChoreDueRow:
    """The chore is not needed this time (a reason is required)."""
    if not reason.strip():
        raise Invalid("say why the chore is skipped (--reason)")
    with transaction(runtime, actor, needs=Role.RESPONDER) as tx:
        row = _open_row(tx.session, due_id)
        _close(tx, runtime, hooks or alert_hooks(runtime), row, SKIPPED, actor.name, reason.strip())
        tx.audit("chore.skip", _subject(row), chore=row.chore, reason=reason.strip())
        return row


def views(runtime: Runtime) -> list[ChoreView]:
    """Every configured chore with its oldest open occurrence and its next due time."""
    now = runtime.clock.now()
    with runtime.sessions() as session:
        out = []
        for chore in runtime.config.chores:
            rows = _open_rows(session, chore.name)
            for row in rows:
                session.expunge(row)
            upcoming = next_due(chore.schedule, _zone(runtime, chore), now)
            out.append(ChoreView(chore, rows[0] if rows else None, upcoming))
        return out


def open_occurrences(session: Session, limit: int = 20) -> list[ChoreDueRow]:
    """The occurrences not yet done or skipped, the soonest deadline first (the dashboard's panel)."""
    query = select(ChoreDueRow).where(ChoreDueRow.status.in_(OPEN)).order_by(ChoreDueRow.deadline)
    return list(session.scalars(query.limit(limit)))


def occurrences(runtime: Runtime, limit: int = 50) -> list[ChoreDueRow]:
    """Occurrences newest first (open and closed)."""
    with runtime.sessions() as session:
        rows = list(session.scalars(select(ChoreDueRow).order_by(ChoreDueRow.due_at.desc()).limit(limit)))
        for row in rows:
            session.expunge(row)
        return rows
