"""Incident logic over config and store: open, join, acknowledge, status, severity, notes, resolve,
escalation steps, SLA breaches, update messages, and the timeline.

No HTTP and no clock of its own: every function takes `now`. Everything a function decides (the incident
change, its timeline entries, the pages and updates in the outbox, the audit row) is added to the caller's
session, so it commits or rolls back as one.

Entry points for the rest of opsbook:
- `on_alert_transitions(session, config, transitions, now)`: the alert hook (same transaction as the
  evaluation): firing P0–P2 alerts open an incident or join their service's open one, and the first
  escalation level is paged at once; resolves and acknowledgements are recorded.
- `advance(session, config, incident, now)`: what the escalation engine runs on every open incident:
  sends the due steps not sent yet, records a missed SLA, says when to look again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.auth.audit import record
from opsbook.auth.roles import SYSTEM, Principal, Role
from opsbook.incidents import comms, sla
from opsbook.incidents.models import (
    ACKNOWLEDGED,
    RESOLVED,
    STATUSES,
    TRIGGERED,
    AckTokenRow,
    EscalationStepRow,
    IncidentAlertRow,
    IncidentRow,
    TimelineRow,
)
from opsbook.incidents.paging import user_contacts
from opsbook.incidents.signed import link_secret, link_url, make_token, read_token
from opsbook.notify.models import PENDING, OutboxRow
from opsbook.notify.outbox import cancel, enqueue
from opsbook.notify.routing import route_for
from opsbook.notify.service import render_for
from opsbook.oncall.config import EscalationPolicy, split_target
from opsbook.oncall.escalation import Step, due_steps, escalation_state, restore, snapshot
from opsbook.oncall.service import resolve_targets
from opsbook.rules.severity import Severity

if TYPE_CHECKING:
    from opsbook.alerts.service import AlertTransition
    from opsbook.config.schema import OpsbookConfig

OPEN_STATUSES = tuple(s for s in STATUSES if s != RESOLVED)
WORKING_STATUSES = ("acknowledged", "investigating", "identified", "monitoring")


class IncidentError(ValueError):
    """A request that cannot be done (unknown incident, resolved already, bad status…); says why."""


class NotFound(IncidentError):
    pass


# --- small helpers ---------------------------------------------------------------------------------


def _entry(
    session: Session, row: IncidentRow, now: datetime, kind: str, message: str, actor: str = "",
    **detail: Any,
) -> TimelineRow:
    entry = TimelineRow(incident_id=row.id, ts=now, kind=kind, actor=actor, message=message[:4000],
                        detail=detail)
    session.add(entry)
    session.flush()
    return entry


def _lock(session: Session, incident_id: int) -> IncidentRow:
    row = session.scalars(
        select(IncidentRow).where(IncidentRow.id == incident_id).with_for_update()
    ).first()
    if row is None:
        raise NotFound(f"no incident {incident_id}")
    return row


def get_incident(session: Session, incident_id: int) -> IncidentRow:
    row = session.get(IncidentRow, incident_id)
    if row is None:
        raise NotFound(f"no incident {incident_id}")
    return row


def _audit(session: Session, now: datetime, actor: Principal | None, action: str, row: IncidentRow,
           **detail: Any) -> None:
    if actor is not None and actor.source != "system":
        record(session, now, actor, action, f"incident:{row.id}", **detail)


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


def _known_user(config: OpsbookConfig, name: str | None) -> str | None:
    """The configured user behind an actor name ('ben', 'token:ben', 'cli:ben'), or None."""
    if not name:
        return None
    known = {u.name for u in config.users}
    for candidate in (name, name.rpartition(":")[2]):
        if candidate in known:
            return candidate
    return None


# --- opening and alerts ----------------------------------------------------------------------------


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
    actor: Principal | None = None,
    detected_at: datetime | None = None,
    policy: str | None = None,
    announce: bool = True,
    page: bool = True,
) -> IncidentRow:
    """Open an incident, snapshot its escalation policy, page the first level at once, post the update."""
    title = title.strip()
    if not title:
        raise IncidentError("an incident needs a title")
    sev = Severity.parse(str(severity))
    if policy is not None:
        chosen = next((p for p in config.escalation_policies if p.name == policy), None)
        if chosen is None:
            raise IncidentError(f"no escalation policy {policy!r}")
    else:
        chosen = choose_policy(config, sev, service)
    actor = actor or SYSTEM
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
    entry = _entry(session, row, now, "opened", f"Incident opened{by}: {row.title}{policy_note}", actor.name,
                   severity=sev.value, source=source, policy=row.policy_name,
                   ack_deadline=row.ack_deadline.isoformat() if row.ack_deadline else None)
    _audit(session, now, actor, "incident.open", row, title=row.title, severity=sev.value, service=service)
    if page:
        advance(session, config, row, now)
    if announce:
        post_update(session, config, row, now, entry)
    return row


def _find_open_for_service(session: Session, service: str, since: datetime) -> IncidentRow | None:
    return session.scalars(
        select(IncidentRow)
        .where(IncidentRow.service == service, IncidentRow.status != RESOLVED, IncidentRow.opened_at >= since)
        .order_by(IncidentRow.opened_at.desc(), IncidentRow.id.desc())
        .limit(1)
        .with_for_update()
    ).first()


def _link_alert(session: Session, row: IncidentRow, t: AlertTransition, now: datetime) -> IncidentAlertRow:
    from opsbook.alerts.models import AlertRow

    alert = session.get(AlertRow, t.alert_id)
    link = IncidentAlertRow(
        incident_id=row.id, alert_id=t.alert_id, dedup_key=t.dedup_key, service=t.service,
        check_id=t.check_id, rule=t.rule, severity=t.severity.value, summary=t.summary, source=t.source,
        pending_since=alert.pending_since if alert is not None else None,
        fired_at=alert.fired_at if alert is not None else t.since, joined_at=now, resolved_at=None,
    )
    session.add(link)
    if t.service and t.service not in (row.services or []):
        row.services = [*(row.services or []), t.service]
    return link


def _alert_name(t: AlertTransition) -> str:
    what = t.check_id or t.service
    return f"{what}" + (f" ({t.rule})" if t.rule else "") + (f": {t.summary}" if t.summary else "")


def on_alert_transitions(
    session: Session, config: OpsbookConfig, transitions: Sequence[AlertTransition], now: datetime
) -> list[IncidentRow]:
    """The alert hook: open or join incidents for firing alerts, record resolves and acks.

    Call it in the transaction that evaluated the alerts (or ingested the events), right after. Firing
    alerts of the severities in `incidents.open_on` open an incident, or join the open incident of their
    service opened within `incidents.grouping_window`; a new incident pages its first escalation level
    here, in this transaction. Silenced alerts join an open incident but never open one. Returns the
    incidents changed.
    """
    from opsbook.alerts.service import TransitionKind

    changed: dict[int, IncidentRow] = {}
    settings = config.incidents
    for t in transitions:
        if t.kind is TransitionKind.FIRED:
            if not settings.opens(t.severity):
                continue
            if session.scalar(select(IncidentAlertRow.id).where(IncidentAlertRow.alert_id == t.alert_id)):
                continue  # already linked (the hook ran twice for one transition)
            row = _find_open_for_service(session, t.service, now - settings.grouping_window)
            if row is not None:
                _link_alert(session, row, t, now)
                _entry(session, row, now, "alert_joined", f"Alert joined: {_alert_name(t)}", t.source,
                       alert_id=t.alert_id, severity=t.severity.value, silenced=t.silenced)
                if t.severity.rank < Severity.parse(row.severity).rank:
                    _change_severity(session, config, row, t.severity, now, SYSTEM,
                                     f"a {t.severity.value} alert joined")
                row.updated_at = now
                changed[row.id] = row
                continue
            if t.silenced:
                continue
            from opsbook.alerts.models import AlertRow

            alert = session.get(AlertRow, t.alert_id)
            row = open_incident(
                session, config, now, title=t.summary or f"{t.service}: {t.rule or t.dedup_key}",
                severity=t.severity, service=t.service, summary=t.message, source=t.source,
                # with no update channels of their own, the alert's firing message already told the channels
                announce=config.incidents.update_channels is not None,
                detected_at=(alert.pending_since if alert is not None else None) or t.since,
                page=False,  # paged below, once the alert (and so its runbook) is linked
            )
            _link_alert(session, row, t, now)
            advance(session, config, row, now)
            _entry(session, row, now, "alert_joined", f"Opened by alert: {_alert_name(t)}", t.source,
                   alert_id=t.alert_id, severity=t.severity.value)
            changed[row.id] = row
        elif t.kind is TransitionKind.RESOLVED:
            links = session.scalars(
                select(IncidentAlertRow).where(IncidentAlertRow.alert_id == t.alert_id,
                                               IncidentAlertRow.resolved_at.is_(None))
            ).all()
            for link in links:
                link.resolved_at = t.resolved_at or now
                row = _lock(session, link.incident_id)
                if row.status == RESOLVED:
                    continue
                _entry(session, row, now, "alert_resolved", f"Alert resolved: {_alert_name(t)}", t.source,
                       alert_id=t.alert_id)
                session.flush()
                open_left = session.scalar(
                    select(IncidentAlertRow.id).where(IncidentAlertRow.incident_id == row.id,
                                                      IncidentAlertRow.resolved_at.is_(None)).limit(1)
                )
                if open_left is None:
                    if settings.auto_resolve:
                        resolve(session, config, row.id, now, SYSTEM, "all its alerts resolved")
                    else:
                        text = "All alerts resolved; the incident stays open until someone resolves it"
                        entry = _entry(session, row, now, "all_alerts_resolved", text, "opsbook")
                        if settings.update_channels is not None:  # else the alert's resolve told them
                            post_update(session, config, row, now, entry)
                row.updated_at = now
                changed[row.id] = row
        elif t.kind is TransitionKind.ACKNOWLEDGED:
            acked = session.scalars(
                select(IncidentAlertRow).where(IncidentAlertRow.alert_id == t.alert_id)
            ).all()
            for link in acked:
                row = _lock(session, link.incident_id)
                if row.status == RESOLVED or row.acknowledged_at is not None:
                    continue
                acknowledge(session, config, row.id, now, Principal(t.source, Role.RESPONDER, t.source),
                            via=t.source)
                changed[row.id] = row
    return list(changed.values())


# --- escalation and SLA ----------------------------------------------------------------------------


@dataclass
class Advance:
    """What `advance` did to one incident and when it must look again."""

    sent: list[EscalationStepRow] = field(default_factory=list)
    breached: bool = False
    next_at: datetime | None = None


def _policy(row: IncidentRow) -> EscalationPolicy | None:
    return restore(row.policy) if row.policy else None


def sent_keys(session: Session, incident_id: int) -> set[str]:
    return set(session.scalars(select(EscalationStepRow.step_key).where(
        EscalationStepRow.incident_id == incident_id)))


def advance(session: Session, config: OpsbookConfig, row: IncidentRow, now: datetime) -> Advance:
    """Send every due escalation step of `row` not sent yet, record a missed SLA; say when to look again.

    Steps come from the policy snapshotted when the incident opened, never from the current config.
    """
    out = Advance()
    if row.status == RESOLVED:
        return out
    policy = _policy(row)
    acked_by = _known_user(config, row.acknowledged_by)
    if policy is not None:
        done = sent_keys(session, row.id)
        for step in due_steps(policy, row.opened_at, now, row.acknowledged_at, row.resolved_at, acked_by):
            if step.key not in done:
                out.sent.append(send_step(session, config, row, step, now))
                done.add(step.key)
    breach = _check_sla(session, config, row, now, escalate=True)
    if breach is not None:
        out.breached = True
        out.sent += breach
    candidates: list[datetime] = []
    if policy is not None:
        state = escalation_state(policy, row.opened_at, now, row.acknowledged_at, row.resolved_at, acked_by)
        if state.next is not None:
            candidates.append(state.next.due)
    if row.ack_deadline is not None and row.sla_breached_at is None and row.acknowledged_at is None:
        candidates.append(max(row.ack_deadline, now))
    out.next_at = min(candidates) if candidates else None
    return out


def send_step(
    session: Session, config: OpsbookConfig, row: IncidentRow, step: Step, now: datetime, reason: str = ""
) -> EscalationStepRow:
    """Record one escalation step and page each of its users on their contacts for the severity."""
    users = resolve_targets(session, config, step.targets, now)
    step_row = EscalationStepRow(
        incident_id=row.id, step_key=step.key, kind=step.kind, level=step.level, round=step.round,
        targets=list(step.targets), users=users, due_at=step.due, sent_at=now,
    )
    session.add(step_row)
    session.flush()  # the unique (incident, step) key stops a second sender here
    paged: list[str] = []
    unreachable: list[str] = []
    for user in users:
        if page_user(session, config, row, user, now, step.key):
            paged.append(user)
        else:
            unreachable.append(user)
    if step.kind == "renotify":
        what = f"Re-notified (still not resolved, #{step.round})"
    else:
        what = f"Escalation level {step.level + 1}" + (f", round {step.round + 1}" if step.round else "")
    text = f"{what}: paged {', '.join(paged)}" if paged else f"{what}: nobody could be paged"
    if unreachable:
        text += f"; no contact for {row.severity}: {', '.join(unreachable)}"
    if not users:
        empty = [t for t in step.targets if split_target(t)[0] == "schedule"]
        if empty:
            text += f" (nobody on call on {', '.join(split_target(t)[1] for t in empty)})"
    if reason:
        text += f" ({reason})"
    _entry(session, row, now, "page", text, "opsbook", step=step.key, level=step.level, round=step.round,
           users=users, paged=paged, due=step.due.isoformat())
    return step_row


def page_user(session: Session, config: OpsbookConfig, row: IncidentRow, user: str, now: datetime,
              step_key: str) -> bool:
    """Enqueue a page to each contact of `user` for the incident's severity, with a signed ack link.

    Returns False if the user has no contact for this severity (or is not in the config any more)."""
    found = next((u for u in config.users if u.name == user), None)
    if found is None:
        return False
    contacts = user_contacts(found, row.severity)
    if not contacts:
        return False
    secret = link_secret(session, config.incidents.link_secret)
    ack = link_url(config.base_url, make_token(secret, row.id, now, user))
    message = render_for(config, "incident", {
        "incident_id": row.id, "title": row.title, "status": row.status, "severity": row.severity,
        "summary": row.summary, "service": row.service, "since": row.opened_at, "link": "",
        "ack_link": ack, "user": user,
    })
    body = message.body if ack in message.body else f"{message.body}\n\nAcknowledge: {ack}"
    for runbook in runbooks_of(session, row.id):
        body += f'\nRunbook: {runbook}\n  opsbook runbook run "{runbook}" --incident {row.id}'
    for channel, _url in contacts:
        enqueue(session, channel=channel, subject=message.subject, body=body, kind="incident", now=now,
                dedup_key=f"incident:{row.id}:{step_key}", severity=row.severity, service=row.service,
                incident_id=row.id, refs={"step": step_key, "user": user, "notify_type": "failure"})
    return True


def runbooks_of(session: Session, incident_id: int) -> list[str]:
    """The runbooks named by the incident's alerts, in the order the alerts joined."""
    from opsbook.alerts.models import AlertRow

    names = session.scalars(
        select(AlertRow.runbook)
        .join(IncidentAlertRow, IncidentAlertRow.alert_id == AlertRow.id)
        .where(IncidentAlertRow.incident_id == incident_id, AlertRow.runbook != "")
        .order_by(IncidentAlertRow.id)
    )
    return list(dict.fromkeys(names))


def _check_sla(session: Session, config: OpsbookConfig, row: IncidentRow, now: datetime, *,
               escalate: bool) -> list[EscalationStepRow] | None:
    """Record a missed acknowledgement deadline once: timeline, update message, and (while unacknowledged,
    if only the first level was paged so far) the next level paged at once.

    None if nothing was missed (or it was recorded before), else the steps sent because of it."""
    if row.sla_breached_at is not None or not sla.breached(row.ack_deadline, now, row.acknowledged_at):
        return None
    assert row.ack_deadline is not None
    row.sla_breached_at = row.ack_deadline
    row.updated_at = now
    allowed = row.ack_deadline - row.opened_at
    from opsbook.config.types import format_duration

    entry = _entry(session, row, now, "sla_breach",
                   f"SLA missed: not acknowledged within {format_duration(allowed)} "
                   f"({row.severity} deadline {row.ack_deadline:%Y-%m-%d %H:%M} UTC)", "opsbook",
                   deadline=row.ack_deadline.isoformat())
    post_update(session, config, row, now, entry)
    policy = _policy(row)
    if not escalate or row.acknowledged_at is not None or policy is None:
        return []
    done = sent_keys(session, row.id)
    if done - {"r0-l0"}:
        return []  # escalation already went past the first responders
    state = escalation_state(policy, row.opened_at, now)
    upcoming = [s for s in (*state.due, *([state.next] if state.next else [])) if s.key not in done]
    if not upcoming:
        return []
    return [send_step(session, config, row, upcoming[0], now, reason="SLA missed")]


def _cancel_pages(session: Session, row: IncidentRow, now: datetime, reason: str) -> int:
    """Cancel escalation pages of `row` not delivered yet (after an acknowledgement or resolve)."""
    ids = session.scalars(
        select(OutboxRow.id).where(OutboxRow.incident_id == row.id, OutboxRow.status == PENDING,
                                   OutboxRow.dedup_key.like(f"incident:{row.id}:r%"))
    ).all()
    return cancel(session, now, ids=list(ids), reason=reason) if ids else 0


# --- updates -------------------------------------------------------------------------------------------


def facts(row: IncidentRow) -> comms.IncidentFacts:
    return comms.IncidentFacts(row.id, row.title, row.service, list(row.services or []), row.status,
                               row.severity, row.impact, row.eta, row.customer_facing)


def update_channels(config: OpsbookConfig, severity: str, now: datetime) -> list[str]:
    configured = config.incidents.update_channels
    if configured is not None:
        return list(configured)
    decision = route_for(config, severity, now)
    return [] if decision.action == "log" else list(decision.channels)


def post_update(session: Session, config: OpsbookConfig, row: IncidentRow, now: datetime,
                entry: TimelineRow) -> list[OutboxRow]:
    """Post the incident update message (runbook format) to the update channels, once per entry."""
    channels = update_channels(config, row.severity, now)
    if not channels:
        return []
    session.flush()
    entries = session.scalars(
        select(TimelineRow).where(TimelineRow.incident_id == row.id,
                                  TimelineRow.kind.in_(comms.UPDATE_KINDS)).order_by(TimelineRow.id)
    ).all()
    updates = [comms.Update(e.ts, e.message) for e in entries]
    subject, body = comms.render_update(facts(row), updates, config.timezone)
    return [
        enqueue(session, channel=channel, subject=subject, body=body, kind="incident", now=now,
                dedup_key=f"incident:{row.id}:update:{entry.id}", severity=row.severity, service=row.service,
                incident_id=row.id, refs={"update": entry.id, "notify_type": "info"})
        for channel in channels
    ]


# --- acting on an incident -------------------------------------------------------------------------------


def acknowledge(session: Session, config: OpsbookConfig, incident_id: int, now: datetime, actor: Principal,
                via: str = "") -> IncidentRow:
    """Acknowledge: stops the escalation. Acknowledging again changes nothing."""
    row = _lock(session, incident_id)
    if row.status == RESOLVED:
        raise IncidentError(f"incident {row.id} is resolved already")
    if row.acknowledged_at is not None:
        return row
    _check_sla(session, config, row, now, escalate=False)
    row.acknowledged_at = now
    row.acknowledged_by = actor.name
    if row.status == TRIGGERED:
        row.status = ACKNOWLEDGED
    if actor.source != "system" and actor.name not in (row.responders or []):
        row.responders = [*(row.responders or []), actor.name]
    row.updated_at = now
    how = f" via {via}" if via else ""
    entry = _entry(session, row, now, "acknowledged", f"Acknowledged by {actor.name}{how}", actor.name,
                   via=via, after_s=(now - row.opened_at).total_seconds())
    _cancel_pages(session, row, now, f"incident {row.id} acknowledged by {actor.name}")
    _audit(session, now, actor, "incident.ack", row, via=via)
    post_update(session, config, row, now, entry)
    return row


def set_status(session: Session, config: OpsbookConfig, incident_id: int, status: str, now: datetime,
               actor: Principal, message: str = "", impact: str | None = None, eta: str | None = None
               ) -> IncidentRow:
    """Move the incident to acknowledged / investigating / identified / monitoring (or resolved)."""
    status = status.strip().lower()
    if status not in STATUSES:
        raise IncidentError(f"{status!r} is not a status; use one of {', '.join(STATUSES[1:])}")
    if status == RESOLVED:
        return resolve(session, config, incident_id, now, actor, message)
    if status == TRIGGERED:
        raise IncidentError("an incident cannot go back to triggered")
    row = _lock(session, incident_id)
    if row.status == RESOLVED:
        raise IncidentError(f"incident {row.id} is resolved already")
    if row.acknowledged_at is None:
        acknowledge(session, config, row.id, now, actor, via=f"status {status}")
    changes: dict[str, Any] = {}
    if impact is not None and impact != row.impact:
        row.impact = impact
        changes["impact"] = impact
    if eta is not None and eta != row.eta:
        row.eta = eta
        changes["eta"] = eta
    if status == row.status and not message and not changes:
        return row
    before = row.status
    row.status = status
    row.updated_at = now
    text = status.capitalize() + (f": {message}" if message else "")
    if changes.get("impact"):
        text += f" (impact: {changes['impact']})"
    if changes.get("eta"):
        text += f" (ETA: {changes['eta']})"
    entry = _entry(session, row, now, "status", text, actor.name, before=before, after=status, **changes)
    _audit(session, now, actor, "incident.status", row, before=before, after=status, message=message,
           **changes)
    post_update(session, config, row, now, entry)
    return row


def _change_severity(session: Session, config: OpsbookConfig, row: IncidentRow, severity: Severity,
                     now: datetime, actor: Principal, why: str = "") -> TimelineRow:
    before = row.severity
    row.severity = severity.value
    row.updated_at = now
    if row.acknowledged_at is None and row.sla_breached_at is None:
        row.ack_deadline = deadline_for(config, severity, row.opened_at)
    text = f"Severity {before} → {severity.value}" + (f": {why}" if why else "")
    return _entry(session, row, now, "severity", text, actor.name, before=before, after=severity.value)


def set_severity(session: Session, config: OpsbookConfig, incident_id: int, severity: Severity | str,
                 now: datetime, actor: Principal, message: str = "") -> IncidentRow:
    """Change the severity (and, while unacknowledged, the SLA deadline); the escalation keeps its policy."""
    row = _lock(session, incident_id)
    if row.status == RESOLVED:
        raise IncidentError(f"incident {row.id} is resolved already")
    sev = Severity.parse(str(severity))
    if sev.value == row.severity:
        return row
    before = row.severity
    entry = _change_severity(session, config, row, sev, now, actor, message)
    _audit(session, now, actor, "incident.severity", row, before=before, after=sev.value, message=message)
    post_update(session, config, row, now, entry)
    return row


def add_note(session: Session, config: OpsbookConfig, incident_id: int, text: str, now: datetime,
             actor: Principal) -> TimelineRow:
    """Add a note to the timeline (resolved incidents take notes too: the post-mortem needs them)."""
    row = _lock(session, incident_id)
    text = text.strip()
    if not text:
        raise IncidentError("a note cannot be empty")
    row.updated_at = now
    entry = _entry(session, row, now, "note", text, actor.name)
    _audit(session, now, actor, "incident.note", row, note=text[:500])
    return entry


def update_details(session: Session, incident_id: int, now: datetime, actor: Principal, *,
                   commander: str | None = None, customer_facing: bool | None = None,
                   title: str | None = None) -> IncidentRow:
    """Set the commander, the customer-facing flag or the title; each change is a timeline entry."""
    row = _lock(session, incident_id)
    changes: dict[str, Any] = {}
    if commander is not None and commander != row.commander:
        row.commander = commander
        changes["commander"] = commander
        if commander not in (row.responders or []):
            row.responders = [*(row.responders or []), commander]
    if customer_facing is not None and customer_facing != row.customer_facing:
        row.customer_facing = customer_facing
        changes["customer_facing"] = customer_facing
    if title is not None and title.strip() and title.strip() != row.title:
        row.title = title.strip()[:500]
        changes["title"] = row.title
    if changes:
        row.updated_at = now
        text = "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in changes.items())
        _entry(session, row, now, "details", f"Changed {text}", actor.name, **changes)
        _audit(session, now, actor, "incident.update", row, **changes)
    return row


def resolve(session: Session, config: OpsbookConfig, incident_id: int, now: datetime, actor: Principal,
            message: str = "") -> IncidentRow:
    """Resolve: ends the escalation and any re-notification. Resolving an unacknowledged incident
    acknowledges it too (a missed deadline is recorded first)."""
    row = _lock(session, incident_id)
    if row.status == RESOLVED:
        raise IncidentError(f"incident {row.id} is resolved already")
    _check_sla(session, config, row, now, escalate=False)
    if row.acknowledged_at is None:
        row.acknowledged_at = now
        row.acknowledged_by = actor.name
    before = row.status
    row.status = RESOLVED
    row.resolved_at = now
    row.resolved_by = actor.name
    row.updated_at = now
    text = f"Resolved by {actor.name}" + (f": {message}" if message else "")
    entry = _entry(session, row, now, "resolved", text, actor.name, before=before,
                   after_s=(now - row.opened_at).total_seconds())
    _cancel_pages(session, row, now, f"incident {row.id} resolved")
    _audit(session, now, actor, "incident.resolve", row, message=message)
    post_update(session, config, row, now, entry)
    return row


# --- signed links ------------------------------------------------------------------------------------


class LinkUsed(IncidentError):
    pass


def check_link(session: Session, config: OpsbookConfig, token: str, now: datetime,
               incident_id: int | None = None) -> tuple[IncidentRow, str | None]:
    """The incident and user an ack link is for; raises signed.LinkError or LinkUsed."""
    secret = link_secret(session, config.incidents.link_secret)
    claim = read_token(secret, token, now, config.incidents.link_ttl, incident_id)
    if session.get(AckTokenRow, claim.nonce) is not None:
        raise LinkUsed("this link was used already")
    return get_incident(session, claim.incident_id), claim.user


def ack_with_token(session: Session, config: OpsbookConfig, token: str, now: datetime, source: str = "",
                   incident_id: int | None = None) -> IncidentRow:
    """Acknowledge through a signed link, once: the link's nonce is recorded in the same transaction."""
    secret = link_secret(session, config.incidents.link_secret)
    claim = read_token(secret, token, now, config.incidents.link_ttl, incident_id)
    if session.get(AckTokenRow, claim.nonce) is not None:
        raise LinkUsed("this link was used already")
    session.add(AckTokenRow(nonce=claim.nonce, incident_id=claim.incident_id, user=claim.user, used_at=now,
                            source=source[:100]))
    session.flush()  # a concurrent use of the same link fails here (primary key)
    actor = Principal(claim.user or "ack-link", Role.RESPONDER, source or "link")
    row = get_incident(session, claim.incident_id)
    if row.acknowledged_at is None and row.status != RESOLVED:
        acknowledge(session, config, row.id, now, actor, via="link")
    else:
        record(session, now, actor, "incident.ack_link", f"incident:{row.id}", already=row.status)
    return row


# --- reading -----------------------------------------------------------------------------------------


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


def steps_of(session: Session, incident_id: int) -> list[EscalationStepRow]:
    return list(session.scalars(select(EscalationStepRow).where(EscalationStepRow.incident_id == incident_id)
                                .order_by(EscalationStepRow.sent_at, EscalationStepRow.id)))


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
    return sorted(items, key=lambda i: (i.ts, 0 if i.source == "incident" else 1, i.ref or 0))


def incident_dict(row: IncidentRow) -> dict[str, Any]:
    def iso(t: datetime | None) -> str | None:
        return t.isoformat() if t is not None else None

    return {
        "id": row.id, "title": row.title, "severity": row.severity, "status": row.status,
        "service": row.service, "services": list(row.services or []), "summary": row.summary,
        "impact": row.impact, "eta": row.eta, "customer_facing": row.customer_facing,
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
