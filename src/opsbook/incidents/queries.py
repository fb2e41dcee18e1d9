"""Reading incidents: one or a list, their alerts, the escalation steps sent, the full timeline (with the
operations log entries linked to the incident), and the incident as a plain dict for JSON."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.alerts.models import AlertRow
from opsbook.errors import NotFound
from opsbook.incidents.models import RESOLVED, EscalationStepRow, IncidentAlertRow, IncidentRow, TimelineRow
from opsbook.rules.severity import Severity


def get_incident(session: Session, incident_id: int) -> IncidentRow:
    row = session.get(IncidentRow, incident_id)
    if row is None:
        raise NotFound(f"no incident {incident_id}")
    return row


def list_incidents(
    session: Session, *, status: str | None = None, open_only: bool = False, service: str | None = None,
    severity: str | None = None, since: datetime | None = None, until: datetime | None = None,
    limit: int = 100,
) -> list[IncidentRow]:
    """Newest first."""
    query = select(IncidentRow)
    if status:
        query = query.where(IncidentRow.status == status)
    if open_only:
        query = query.where(IncidentRow.status != RESOLVED)
    if service:
        query = query.where(IncidentRow.service == service)
    if severity:
        query = query.where(IncidentRow.severity == Severity.parse(severity).value)
    if since is not None:
        query = query.where(IncidentRow.opened_at >= since)
    if until is not None:
        query = query.where(IncidentRow.opened_at < until)
    return list(session.scalars(query.order_by(IncidentRow.id.desc()).limit(limit)))


def open_incident_ids(session: Session) -> list[int]:
    return list(session.scalars(select(IncidentRow.id).where(IncidentRow.status != RESOLVED)
                                .order_by(IncidentRow.id)))


def alerts_of(session: Session, incident_id: int) -> list[IncidentAlertRow]:
    return list(session.scalars(select(IncidentAlertRow).where(IncidentAlertRow.incident_id == incident_id)
                                .order_by(IncidentAlertRow.id)))


def incidents_of_alert(session: Session, alert_id: int) -> list[IncidentRow]:
    """The incidents an alert joined, oldest first."""
    return list(session.scalars(
        select(IncidentRow).join(IncidentAlertRow, IncidentAlertRow.incident_id == IncidentRow.id)
        .where(IncidentAlertRow.alert_id == alert_id).order_by(IncidentRow.id)))


def steps_of(session: Session, incident_id: int) -> list[EscalationStepRow]:
    return list(session.scalars(select(EscalationStepRow).where(EscalationStepRow.incident_id == incident_id)
                                .order_by(EscalationStepRow.sent_at, EscalationStepRow.id)))


def runbooks_of(session: Session, incident_id: int) -> list[str]:
    """The runbooks named by the incident's alerts, in the order the alerts joined."""
    names = session.scalars(
        select(AlertRow.runbook)
        .join(IncidentAlertRow, IncidentAlertRow.alert_id == AlertRow.id)
        .where(IncidentAlertRow.incident_id == incident_id, AlertRow.runbook != "")
        .order_by(IncidentAlertRow.id)
    )
    return list(dict.fromkeys(names))


@dataclass(frozen=True)
class TimelineItem:
    """One line of an incident's timeline: its own entries and the operations log entries linked to it."""

    ts: datetime
    kind: str
    actor: str
    message: str
    source: str = "incident"  # incident | oplog
    ref: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)


def timeline(session: Session, incident_id: int) -> list[TimelineItem]:
    """The full timeline, oldest first: incident entries plus runbook runs and operations log entries."""
    # the operations log and the deploys (their use cases and tables) only where a timeline is read:
    # `incident list` loads neither
    from opsbook.deploys.queries import marks as deploy_marks
    from opsbook.oplog.service import entries_for_incident

    items = [
        TimelineItem(e.ts, e.kind, e.actor, e.message, "incident", e.id, dict(e.detail or {}))
        for e in session.scalars(select(TimelineRow).where(TimelineRow.incident_id == incident_id)
                                 .order_by(TimelineRow.ts, TimelineRow.id))
    ]
    for op in entries_for_incident(session, incident_id):
        text = op.operation + (f" — {op.reason}" if op.reason else "")
        if op.issues:
            text += f" (issues: {op.issues})"
        kind = "runbook" if op.run_id is not None else "operation"
        items.append(TimelineItem(op.ts, kind, op.operator, text, "oplog", op.id,
                                  {"run_id": op.run_id, "duration_s": op.duration_s}))
    incident = session.get(IncidentRow, incident_id)
    if incident is not None:  # deploys of its services from an hour before it opened
        services = incident.services or ([incident.service] if incident.service else [])
        for ts, who, text, ref in deploy_marks(session, services, incident.opened_at, incident.resolved_at):
            items.append(TimelineItem(ts, "deploy", who, text, "deploy", ref, {"deploy_id": ref}))
    return sorted(items, key=lambda i: (i.ts, 0 if i.source == "incident" else 1, i.ref or 0))


def incident_dict(row: IncidentRow) -> dict[str, Any]:
    def iso(t: datetime | None) -> str | None:
        return t.isoformat() if t is not None else None

    return {
        "id": row.id, "title": row.title, "severity": row.severity, "status": row.status,
        "service": row.service, "services": list(row.services or []), "summary": row.summary,
        "impact": row.impact, "eta": row.eta, "customer_facing": row.customer_facing,
        "public_title": row.public_title,
        "commander": row.commander, "responders": list(row.responders or []), "source": row.source,
        "opened_by": row.opened_by, "policy": row.policy_name, "detected_at": iso(row.detected_at),
        "opened_at": iso(row.opened_at), "acknowledged_at": iso(row.acknowledged_at),
        "acknowledged_by": row.acknowledged_by, "resolved_at": iso(row.resolved_at),
        "resolved_by": row.resolved_by, "ack_deadline": iso(row.ack_deadline),
        "sla_breached": row.sla_breached_at is not None, "updated_at": iso(row.updated_at),
    }


def users_paged(steps: Iterable[EscalationStepRow]) -> list[str]:
    out: list[str] = []
    for step in steps:
        out += [u for u in step.users if u not in out]
    return out
