"""The life of an incident: open, acknowledge, set the status, change the severity, add a note, change
the details, resolve.

Each function changes one incident (locked first, records.lock) in the caller's session at the instant
given: it writes the timeline entry, stops or starts paging, posts the update message, and returns the
`Change`s it made. The caller records them (`record`: the audit row and the `Topic.INCIDENTS` event):
the use cases in service.py, or the alert link (linking.py) for opsbook's own changes. Nothing here
commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from opsbook.auth.roles import SYSTEM, Principal
from opsbook.config.schema import OpsbookConfig
from opsbook.errors import Conflict, Invalid
from opsbook.events import DomainEvent, Topic
from opsbook.incidents import sla
from opsbook.incidents.models import ACKNOWLEDGED, RESOLVED, STATUSES, TRIGGERED, IncidentRow, TimelineRow
from opsbook.incidents.paging import advance, check_sla
from opsbook.incidents.records import Change, add_entry, lock
from opsbook.incidents.updates import post_update
from opsbook.notify.service import cancel_pages
from opsbook.oncall.config import EscalationPolicy
from opsbook.oncall.escalation import snapshot
from opsbook.rules.severity import Severity
from opsbook.usecase import Tx


def record(tx: Tx, changes: Iterable[Change]) -> None:
    """Audit each change as `tx.actor` and emit it as an event; both commit with the change or not at all."""
    for change in changes:
        if change.audit is not None:
            tx.audit(change.audit, change.target, **change.detail)
        tx.emit(DomainEvent(Topic.INCIDENTS, change.entry.kind, change.target))


def severity_of(value: Severity | str) -> Severity:
    try:
        return Severity.parse(str(value))
    except ValueError as exc:
        raise Invalid(str(exc)) from None


def choose_policy(
    config: OpsbookConfig, severity: Severity | str, service: str | None
) -> EscalationPolicy | None:
    """The escalation policy for a new incident: by service, by severity, `default`, a policy named
    "default", else the first one configured; None if there are no policies."""
    policies = {p.name: p for p in config.escalation_policies}
    choice = config.incidents.escalation
    sev = Severity.parse(str(severity)).value
    for name in (choice.service.get(service or ""), choice.severity.get(sev), choice.default, "default"):
        if name and name in policies:
            return policies[name]
    return config.escalation_policies[0] if config.escalation_policies else None


def deadline_for(config: OpsbookConfig, severity: Severity | str, opened_at: datetime) -> datetime | None:
    return sla.ack_deadline(config.incidents.sla.for_severity(severity), opened_at, config.business_hours,
                            config.timezone)


def open_incident(
    session: Session,
    config: OpsbookConfig,
    now: datetime,
    *,
    title: str,
    severity: Severity | str,
    service: str | None = None,
    summary: str = "",
    impact: str = "",
    customer_facing: bool = False,
    commander: str | None = None,
    source: str = "manual",
    actor: Principal = SYSTEM,
    detected_at: datetime | None = None,
    announce: bool = True,
    page: bool = True,
) -> IncidentRow:
    """Open an incident, snapshot its escalation policy, page the first level at once, post the update."""
    title = title.strip()
    if not title:
        raise Invalid("an incident needs a title")
    sev = severity_of(severity)
    chosen = choose_policy(config, sev, service)
    row = IncidentRow(
        title=title[:500], severity=sev.value, status=TRIGGERED, service=service,
        services=[service] if service else [], summary=summary, impact=impact, eta="",
        customer_facing=customer_facing, commander=commander, responders=[], source=source,
        opened_by=actor.name, policy_name=chosen.name if chosen else None,
        policy=snapshot(chosen) if chosen else None, detected_at=detected_at, opened_at=now,
        ack_deadline=deadline_for(config, sev, now), updated_at=now,
    )
    session.add(row)
    session.flush()
    by = "" if actor.source == "system" else f" by {actor.name}"
    policy_note = f"; escalation policy {chosen.name}" if chosen else "; no escalation policy: nobody paged"
    entry = add_entry(session, row, now, "opened", f"Incident opened{by}: {row.title}{policy_note}",
                      actor.name, severity=sev.value, source=source, policy=row.policy_name,
                      ack_deadline=row.ack_deadline.isoformat() if row.ack_deadline else None)
    if page:
        advance(session, config, row, now)
    if announce:
        post_update(session, config, row, now, entry)
    return row


def _still_open(row: IncidentRow) -> None:
    if row.status == RESOLVED:
        raise Conflict(f"incident {row.id} is resolved already")


def acknowledge(session: Session, config: OpsbookConfig, incident_id: int, now: datetime, actor: Principal,
                via: str = "") -> list[Change]:
    """Acknowledge: stops the escalation. Acknowledging again changes nothing."""
    row = lock(session, incident_id)
    _still_open(row)
    if row.acknowledged_at is not None:
        return []
    check_sla(session, config, row, now, escalate=False)
    row.acknowledged_at = now
    row.acknowledged_by = actor.name
    if row.status == TRIGGERED:
        row.status = ACKNOWLEDGED
    if actor.source != "system" and actor.name not in (row.responders or []):
        row.responders = [*(row.responders or []), actor.name]
    row.updated_at = now
    how = f" via {via}" if via else ""
    entry = add_entry(session, row, now, "acknowledged", f"Acknowledged by {actor.name}{how}", actor.name,
                      via=via, after_s=(now - row.opened_at).total_seconds())
    cancel_pages(session, row.id, now, f"incident {row.id} acknowledged by {actor.name}")
    post_update(session, config, row, now, entry)
    return [Change(entry, "incident.ack", {"via": via})]


def set_status(session: Session, config: OpsbookConfig, incident_id: int, status: str, now: datetime,
               actor: Principal, message: str = "", impact: str | None = None, eta: str | None = None
               ) -> list[Change]:
    """Move the incident to acknowledged / investigating / identified / monitoring (or resolved); an
    unacknowledged incident is acknowledged first."""
    status = status.strip().lower()
    if status not in STATUSES:
        raise Invalid(f"{status!r} is not a status; use one of {', '.join(STATUSES[1:])}")
    if status == RESOLVED:
        return resolve(session, config, incident_id, now, actor, message)
    if status == TRIGGERED:
        raise Invalid("an incident cannot go back to triggered")
    row = lock(session, incident_id)
    _still_open(row)
    changes = acknowledge(session, config, row.id, now, actor, via=f"status {status}")
    changed: dict[str, Any] = {}
    if impact is not None and impact != row.impact:
        row.impact = changed["impact"] = impact
    if eta is not None and eta != row.eta:
        row.eta = changed["eta"] = eta
    if status == row.status and not message and not changed:
        return changes
    before = row.status
    row.status = status
    row.updated_at = now
    text = status.capitalize() + (f": {message}" if message else "")
    if changed.get("impact"):
        text += f" (impact: {changed['impact']})"
    if changed.get("eta"):
        text += f" (ETA: {changed['eta']})"
    entry = add_entry(session, row, now, "status", text, actor.name, before=before, after=status, **changed)
    post_update(session, config, row, now, entry)
    return [*changes, Change(entry, "incident.status",
                             {"before": before, "after": status, "message": message, **changed})]


def change_severity(session: Session, config: OpsbookConfig, row: IncidentRow, severity: Severity,
                    now: datetime, actor: Principal, why: str = "") -> TimelineRow:
    """Record the new severity of a locked incident (and, while unacknowledged, its new SLA deadline)."""
    before = row.severity
    row.severity = severity.value
    row.updated_at = now
    if row.acknowledged_at is None and row.sla_breached_at is None:
        row.ack_deadline = deadline_for(config, severity, row.opened_at)
    text = f"Severity {before} → {severity.value}" + (f": {why}" if why else "")
    return add_entry(session, row, now, "severity", text, actor.name, before=before, after=severity.value)


def set_severity(session: Session, config: OpsbookConfig, incident_id: int, severity: Severity | str,
                 now: datetime, actor: Principal, message: str = "") -> list[Change]:
    """Change the severity (and, while unacknowledged, the SLA deadline); the escalation keeps its policy."""
    sev = severity_of(severity)
    row = lock(session, incident_id)
    _still_open(row)
    if sev.value == row.severity:
        return []
    before = row.severity
    entry = change_severity(session, config, row, sev, now, actor, message)
    post_update(session, config, row, now, entry)
    return [Change(entry, "incident.severity", {"before": before, "after": sev.value, "message": message})]


def add_note(session: Session, config: OpsbookConfig, incident_id: int, text: str, now: datetime,
             actor: Principal) -> list[Change]:
    """Add a note to the timeline (resolved incidents take notes too: the post-mortem needs them)."""
    row = lock(session, incident_id)
    text = text.strip()
    if not text:
        raise Invalid("a note cannot be empty")
    row.updated_at = now
    entry = add_entry(session, row, now, "note", text, actor.name)
    return [Change(entry, "incident.note", {"note": text[:500]})]


def update_details(session: Session, incident_id: int, now: datetime, actor: Principal, *,
                   commander: str | None = None, customer_facing: bool | None = None,
                   title: str | None = None) -> list[Change]:
    """Set the commander, the customer-facing flag or the title; the changes are one timeline entry."""
    row = lock(session, incident_id)
    changed: dict[str, Any] = {}
    if commander is not None and commander != row.commander:
        row.commander = changed["commander"] = commander
        if commander not in (row.responders or []):
            row.responders = [*(row.responders or []), commander]
    if customer_facing is not None and customer_facing != row.customer_facing:
        row.customer_facing = changed["customer_facing"] = customer_facing
    if title is not None and title.strip() and title.strip() != row.title:
        row.title = changed["title"] = title.strip()[:500]
    if not changed:
        return []
    row.updated_at = now
    text = "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in changed.items())
    entry = add_entry(session, row, now, "details", f"Changed {text}", actor.name, **changed)
    return [Change(entry, "incident.update", changed)]


def resolve(session: Session, config: OpsbookConfig, incident_id: int, now: datetime, actor: Principal,
            message: str = "") -> list[Change]:
    """Resolve: ends the escalation and any re-notification. An incident resolved without an
    acknowledgement stays unacknowledged (its time to acknowledge is "never", not its time to resolve);
    a missed deadline is recorded first."""
    row = lock(session, incident_id)
    _still_open(row)
    check_sla(session, config, row, now, escalate=False)
    before = row.status
    row.status = RESOLVED
    row.resolved_at = now
    row.resolved_by = actor.name
    row.updated_at = now
    text = f"Resolved by {actor.name}" + (f": {message}" if message else "")
    entry = add_entry(session, row, now, "resolved", text, actor.name, before=before,
                      after_s=(now - row.opened_at).total_seconds())
    cancel_pages(session, row.id, now, f"incident {row.id} resolved")
    post_update(session, config, row, now, entry)
    return [Change(entry, "incident.resolve", {"message": message})]
