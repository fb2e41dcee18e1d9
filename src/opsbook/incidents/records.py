"""What every incident job shares: locking an incident for a change, appending to its timeline, and the
`Change` each use case records (here rather than in lifecycle.py, so that reading an incident's public
updates does not load the escalation and the notifications: the CLI's `incident show`).

A change to an incident locks its row first (`FOR UPDATE` on PostgreSQL), so two changes to one
incident (an acknowledgement and an escalation step, say) happen one after the other. Timeline entries
are only ever added (models.TimelineRow refuses updates and deletes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.errors import NotFound
from opsbook.incidents.models import IncidentRow, TimelineRow


@dataclass(frozen=True)
class Change:
    """One change to an incident: its timeline entry, and the audit action it is (None: not audited)."""

    entry: TimelineRow
    audit: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def target(self) -> str:
        return f"incident:{self.entry.incident_id}"


def lock(session: Session, incident_id: int) -> IncidentRow:
    """The incident, locked until the transaction ends; NotFound if there is none."""
    row = session.scalars(select(IncidentRow).where(IncidentRow.id == incident_id).with_for_update()).first()
    if row is None:
        raise NotFound(f"no incident {incident_id}")
    return row


def add_entry(
    session: Session, row: IncidentRow, now: datetime, kind: str, message: str, actor: str = "", **detail: Any
) -> TimelineRow:
    """Append an entry to the incident's timeline (flushed: its id is known)."""
    entry = TimelineRow(incident_id=row.id, ts=now, kind=kind, actor=actor, message=message[:4000],
                        detail=detail)
    session.add(entry)
    session.flush()
    return entry
