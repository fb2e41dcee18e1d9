"""Incident updates: after each change worth telling, the incident's state and its latest updates go to
the update channels as one message (notify.messages.IncidentUpdate; an SLA breach as SlaBreach), once
per timeline entry."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.config.schema import OpsbookConfig
from opsbook.incidents.models import IncidentRow, TimelineRow
from opsbook.notify.messages import IncidentFacts, IncidentUpdate, SlaBreach, Update
from opsbook.notify.models import OutboxRow
from opsbook.notify.service import send

UPDATE_KINDS = frozenset(
    {"opened", "acknowledged", "status", "severity", "resolved", "alert_joined", "alert_resolved",
     "all_alerts_resolved", "sla_breach", "note"}
)
"""Timeline kinds that are shown as updates (pages and escalation steps are not)."""
MAX_UPDATES = 10


def facts(row: IncidentRow) -> IncidentFacts:
    return IncidentFacts(row.id, row.title, row.service, tuple(row.services or ()), row.status, row.severity,
                         row.impact, row.eta, row.customer_facing)


def post_update(
    session: Session, config: OpsbookConfig, row: IncidentRow, now: datetime, entry: TimelineRow
) -> list[OutboxRow]:
    """Send the update for `entry` (just added to `row`'s timeline) to the update channels."""
    latest = session.scalars(
        select(TimelineRow)
        .where(TimelineRow.incident_id == row.id, TimelineRow.kind.in_(UPDATE_KINDS))
        .order_by(TimelineRow.ts.desc(), TimelineRow.id.desc())
        .limit(MAX_UPDATES)
    )
    updates = tuple(Update(e.ts, e.message) for e in latest)
    if entry.kind == "sla_breach" and row.ack_deadline is not None:
        return send(session, config, SlaBreach(facts(row), updates, entry.id, row.ack_deadline), now)
    return send(session, config, IncidentUpdate(facts(row), updates, entry.id), now)
