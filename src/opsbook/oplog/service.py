"""Operations log entries: written for every runbook run, added by hand for other work, listed per incident.

A person records work with the use case `log_operation` (responder role, audit row, `Topic.OPLOG` event).
Other domains call `add_entry` inside their own transaction (a runbook run writes its entry when it is
closed) and `entries_for_incident(session, incident_id)` (incident timelines).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.auth.roles import Principal, Role
from opsbook.errors import Invalid, NotFound
from opsbook.events import DomainEvent, Topic
from opsbook.oplog.models import OplogEntryRow
from opsbook.runtime import Runtime
from opsbook.usecase import transaction

TEMPLATE_FIELDS = ("Date/Time", "Operation", "Reason", "Impact", "Duration", "Issues", "Follow-up")


class EntryNotFound(NotFound):
    pass


def log_operation(
    runtime: Runtime,
    actor: Principal,
    *,
    operation: str,
    at: datetime | None = None,
    reason: str = "",
    impact: str = "",
    duration_s: float | None = None,
    issues: str = "",
    follow_up: str = "",
    incident_id: str | None = None,
) -> OplogEntryRow:
    """Record work `actor` did by hand, at `at` (default now; a time without offset is UTC)."""
    with transaction(runtime, actor, needs=Role.RESPONDER) as tx:
        if not operation.strip():
            raise Invalid("say what was done: the operation is empty")
        if duration_s is not None and duration_s < 0:
            raise Invalid(f"a duration cannot be negative ({duration_s:g}s)")
        when = at or tx.now
        if when.tzinfo is None:
            when = when.replace(tzinfo=tx.now.tzinfo)
        row = add_entry(
            tx.session, now=tx.now, ts=when, operation=operation.strip(), operator=actor.name, reason=reason,
            impact=impact, duration_s=duration_s, issues=issues, follow_up=follow_up, incident_id=incident_id,
        )
        subject = f"oplog:{row.id}"
        tx.audit("oplog.add", subject, incident_id=incident_id)
        tx.emit(DomainEvent(Topic.OPLOG, "added", subject, {"incident": incident_id}))
        return row


def add_entry(
    session: Session,
    *,
    now: datetime,
    operation: str,
    operator: str,
    ts: datetime | None = None,
    reason: str = "",
    impact: str = "",
    duration_s: float | None = None,
    issues: str = "",
    follow_up: str = "",
    incident_id: str | int | None = None,
    steps: Sequence[dict[str, Any]] = (),
    run_id: int | None = None,
    source: str = "manual",
) -> OplogEntryRow:
    """Add an entry to the caller's transaction and return it (its id is set on flush)."""
    row = OplogEntryRow(
        ts=ts or now,
        operation=operation,
        reason=reason,
        impact=impact,
        duration_s=duration_s,
        issues=issues,
        follow_up=follow_up,
        operator=operator,
        incident_id=None if incident_id is None else str(incident_id),
        run_id=run_id,
        source=source,
        steps=list(steps),
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def entry_for_run(session: Session, run_id: int) -> OplogEntryRow | None:
    return session.scalar(select(OplogEntryRow).where(OplogEntryRow.run_id == run_id))


def get_entry(session: Session, entry_id: int) -> OplogEntryRow:
    row = session.get(OplogEntryRow, entry_id)
    if row is None:
        raise EntryNotFound(f"no operations log entry {entry_id}")
    return row


def list_entries(
    session: Session,
    *,
    incident_id: str | int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
) -> list[OplogEntryRow]:
    """Newest first."""
    query = select(OplogEntryRow)
    if incident_id is not None:
        query = query.where(OplogEntryRow.incident_id == str(incident_id))
    if since is not None:
        query = query.where(OplogEntryRow.ts >= since)
    if until is not None:
        query = query.where(OplogEntryRow.ts < until)
    query = query.order_by(OplogEntryRow.ts.desc(), OplogEntryRow.id.desc()).limit(limit)
    return list(session.scalars(query))


def entries_for_incident(session: Session, incident_id: str | int) -> list[OplogEntryRow]:
    """Every entry linked to an incident, oldest first (for its timeline)."""
    query = (
        select(OplogEntryRow)
        .where(OplogEntryRow.incident_id == str(incident_id))
        .order_by(OplogEntryRow.ts, OplogEntryRow.id)
    )
    return list(session.scalars(query))


def entry_dict(row: OplogEntryRow) -> dict[str, Any]:
    """An entry as plain data (API output, JSON export)."""
    return {
        "id": row.id,
        "date_time": row.ts.isoformat(),
        "operation": row.operation,
        "reason": row.reason,
        "impact": row.impact,
        "duration_s": row.duration_s,
        "issues": row.issues,
        "follow_up": row.follow_up,
        "operator": row.operator,
        "incident_id": row.incident_id,
        "run_id": row.run_id,
        "source": row.source,
        "steps": row.steps,
        "created_at": row.created_at.isoformat(),
    }
