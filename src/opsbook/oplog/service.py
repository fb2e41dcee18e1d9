"""Operations log entries: written for every runbook run, added by hand for other work, listed per incident.

Other domains call `entries_for_incident(session, incident_id)` (incident timelines) and `add_entry`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.oplog.models import OplogEntryRow

TEMPLATE_FIELDS = ("Date/Time", "Operation", "Reason", "Impact", "Duration", "Issues", "Follow-up")


class EntryNotFound(LookupError):
    pass


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
