"""Incidents as the public sees them: only those touching a public service, with their public updates.

What is shown of an incident:
- only the public services among those it affects (an incident of private services only is not shown);
- if a responder published it (incidents/public.py): its public title and the updates written for
  customers, and the generic sentence of each status change none of them announced;
- otherwise: a generic title naming its state in the page's words ("Major outage: api", given by
  build.py once the services' states are known) and the generic sentence of each status change.
Notes, status messages, acknowledgements, pages and who did what never appear.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.statuspage.snapshot import PublicIncident, PublicUpdate, incident_state

PUBLIC_KINDS = ("opened", "status", "resolved")
GENERIC = {
    "opened": "We are investigating a problem.",
    "acknowledged": "We are investigating a problem.",
    "investigating": "We are investigating a problem.",
    "identified": "The cause has been identified and a fix is being worked on.",
    "monitoring": "A fix has been applied; we are monitoring the results.",
    "resolved": "This incident has been resolved.",
}


def _public_status(status: str) -> str:
    return "investigating" if status in ("opened", "triggered", "acknowledged") else status


def _generic(kind: str, detail: dict[str, object], ts: datetime) -> PublicUpdate:
    """A status change as the generic sentence of its status (the text typed with it stays internal)."""
    status = "resolved" if kind == "resolved" else _public_status(str(detail.get("after") or kind))
    return PublicUpdate(ts, status, GENERIC.get(status, "Status updated."))


def _published(generic: list[PublicUpdate], written: list[PublicUpdate]) -> list[PublicUpdate]:
    """A published incident's updates: those written for customers, and the generic line of each status
    change whose status none of them announced."""
    said = {u.status for u in written}
    return sorted([*written, *(u for u in generic if u.status not in said)], key=lambda u: u.ts)


def public_services_of(row: Any, public_services: Collection[str]) -> list[str]:
    """The public services an incident (an IncidentRow) affects, sorted."""
    return sorted({*(row.services or []), *([row.service] if row.service else [])} & set(public_services))


def public_incidents(
    session: Session, public_services: Collection[str], now: datetime, since: datetime
) -> tuple[list[PublicIncident], list[PublicIncident]]:
    """(open incidents, incidents resolved since `since`), newest first, public services only.

    An unpublished incident's title is left empty here: build.py names it by its state on the page."""
    try:
        from opsbook.dependencies.causes import incidents_with_caused
        from opsbook.incidents.models import RESOLVED, IncidentRow, PublicUpdateRow, TimelineRow
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
        services = public_services_of(row, public_services)
        if services:
            shown.append((row, services))
    generic: dict[int, list[PublicUpdate]] = defaultdict(list)
    written: dict[int, list[PublicUpdate]] = defaultdict(list)
    published = [row.id for row, _ in shown if row.customer_facing]
    ids = [row.id for row, _ in shown]
    if ids:
        for entry in session.scalars(
            select(TimelineRow)
            .where(TimelineRow.incident_id.in_(ids), TimelineRow.kind.in_(PUBLIC_KINDS))
            .order_by(TimelineRow.ts, TimelineRow.id)
        ):
            said = generic[entry.incident_id]
            line = _generic(entry.kind, dict(entry.detail or {}), entry.ts)
            if not said or said[-1].status != line.status:  # acknowledged after opened: still investigating
                said.append(line)
    if published:
        for update in session.scalars(
            select(PublicUpdateRow).where(PublicUpdateRow.incident_id.in_(published))
            .order_by(PublicUpdateRow.ts, PublicUpdateRow.number)
        ):
            written[update.incident_id].append(
                PublicUpdate(update.ts, update.status, update.text, edited=update.edited_at is not None)
            )
    caused = incidents_with_caused(session, ids)
    active: list[PublicIncident] = []
    past: list[PublicIncident] = []
    for row, services in shown:
        resolved_at = row.resolved_at if row.status == RESOLVED else None
        updates = _published(generic[row.id], written[row.id]) if row.customer_facing else generic[row.id]
        incident = PublicIncident(
            id=str(row.id),
            title=(row.public_title or row.title) if row.customer_facing else "",
            severity=row.severity,
            status=_public_status(row.status),
            started_at=row.opened_at,
            resolved_at=resolved_at,
            services=services,
            updates=list(reversed(updates)),  # newest first, as status pages read
            state=incident_state(row.severity),
            published=bool(row.customer_facing),
            cause=row.service if row.id in caused and row.service in services and len(services) > 1 else "",
        )
        (past if row.status == RESOLVED else active).append(incident)
    return active, past
