"""Incidents as the public sees them: only those touching a public service, with their public updates.

What is shown of an incident:
- only the public services among those it affects (an incident of private services only is not shown);
- if a responder marked it customer-facing: its title and the messages written with its status changes
  ("Identified: the database pool is exhausted") and with its resolution — they are written for customers;
- otherwise: a generic title ("Degraded service: api") and the status changes without any text.
Notes, acknowledgements, pages and who did what never appear.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.statuspage.snapshot import PublicIncident, PublicUpdate

PUBLIC_KINDS = ("opened", "status", "resolved")
GENERIC = {
    "opened": "We are investigating a problem.",
    "acknowledged": "We are investigating a problem.",
    "investigating": "We are investigating a problem.",
    "identified": "The cause has been identified and a fix is being worked on.",
    "monitoring": "A fix has been applied; we are monitoring the results.",
    "resolved": "This incident has been resolved.",
}


def _text_after_colon(message: str) -> str:
    _, sep, rest = message.partition(": ")
    return rest.strip() if sep else ""


def _update(
    kind: str, message: str, detail: dict[str, object], ts: datetime, public_text: bool
) -> PublicUpdate:
    if kind == "opened":
        status = "investigating"
        text = ""  # the opening entry names who opened it and the escalation policy: internal
    elif kind == "resolved":
        status = "resolved"
        text = _text_after_colon(message) if public_text else ""
    else:
        status = str(detail.get("after") or "update")
        text = _text_after_colon(message) if public_text else ""
    return PublicUpdate(ts, status, text or GENERIC.get(status, "Status updated."))


def public_incidents(
    session: Session, public_services: Collection[str], now: datetime, since: datetime
) -> tuple[list[PublicIncident], list[PublicIncident]]:
    """(open incidents, incidents resolved since `since`), newest first, public services only."""
    try:
        from opsbook.incidents.models import RESOLVED, IncidentRow, TimelineRow
    except ImportError:  # the incidents domain is not there
        return [], []
    rows = list(
        session.scalars(
            select(IncidentRow)
            .where((IncidentRow.status != RESOLVED) | (IncidentRow.resolved_at >= since))
            .order_by(IncidentRow.opened_at.desc(), IncidentRow.id.desc())
            .limit(1000)
        )
    )
    shown = []
    for row in rows:
        services = sorted(
            {*(row.services or []), *([row.service] if row.service else [])} & set(public_services)
        )
        if services:
            shown.append((row, services))
    updates: dict[int, list[PublicUpdate]] = defaultdict(list)
    public_text = {row.id: bool(row.customer_facing) for row, _ in shown}
    if shown:
        for entry in session.scalars(
            select(TimelineRow)
            .where(
                TimelineRow.incident_id.in_([row.id for row, _ in shown]), TimelineRow.kind.in_(PUBLIC_KINDS)
            )
            .order_by(TimelineRow.ts, TimelineRow.id)
        ):
            updates[entry.incident_id].append(
                _update(
                    entry.kind,
                    entry.message,
                    dict(entry.detail or {}),
                    entry.ts,
                    public_text[entry.incident_id],
                )
            )
    active: list[PublicIncident] = []
    past: list[PublicIncident] = []
    for row, services in shown:
        title = row.title if row.customer_facing else f"Degraded service: {', '.join(services)}"
        incident = PublicIncident(
            id=str(row.id),
            title=title,
            severity=row.severity,
            status=row.status,
            started_at=row.opened_at,
            resolved_at=row.resolved_at if row.status == RESOLVED else None,
            services=services,
            updates=list(reversed(updates[row.id])),  # newest first, as status pages read
        )
        (past if row.status == RESOLVED else active).append(incident)
    return active, past
