"""Alerts and incidents: firing alerts open an incident or join their service's open one; resolves and
acknowledgements of linked alerts are recorded on their incidents.

`on_alert_transitions(session, config, transitions, now)` is the alert hook (`alert_hook(config)` for the
pipeline): it runs in the transaction that evaluated the alerts (or ingested the events), right after,
and emits its `Topic.INCIDENTS` events there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.alerts.changes import transition_of
from opsbook.alerts.models import AlertRow
from opsbook.alerts.types import AlertHook, AlertTransition, TransitionKind
from opsbook.auth.roles import SYSTEM, Principal, Role
from opsbook.config.schema import OpsbookConfig
from opsbook.dependencies.causes import cause_of, caused_alerts
from opsbook.dependencies.graph import service_of
from opsbook.events import DomainEvent, Topic
from opsbook.incidents import lifecycle
from opsbook.incidents.detection import detected_at
from opsbook.incidents.models import RESOLVED, IncidentAlertRow, IncidentRow
from opsbook.incidents.paging import advance
from opsbook.incidents.records import Change, add_entry, lock
from opsbook.incidents.updates import post_update
from opsbook.rules.severity import Severity
from opsbook.usecase import Tx


def alert_hook(config: OpsbookConfig) -> AlertHook:
    """`hook(session, transitions, now)` for the alert paths (results, due timer, ingest)."""

    def hook(session: Session, transitions: Sequence[AlertTransition], now: datetime) -> None:
        if transitions:
            on_alert_transitions(session, config, transitions, now)

    return hook


def _find_open_for_service(session: Session, service: str, since: datetime) -> IncidentRow | None:
    return session.scalars(
        select(IncidentRow)
        .where(IncidentRow.service == service, IncidentRow.status != RESOLVED, IncidentRow.opened_at >= since)
        .order_by(IncidentRow.opened_at.desc(), IncidentRow.id.desc())
        .limit(1)
        .with_for_update()
    ).first()


def _link_alert(session: Session, row: IncidentRow, t: AlertTransition, now: datetime) -> IncidentAlertRow:
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
    """Open or join incidents for firing alerts, record resolves and acks; returns the incidents changed.

    Firing alerts of the severities in `incidents.open_on` open an incident, or join the open incident of
    their service opened within `incidents.grouping_window`; a new incident pages its first escalation
    level here, in this transaction. Silenced alerts join an open incident but never open one.
    """
    changed: dict[int, IncidentRow] = {}
    for t in transitions:
        for row in _HANDLERS[t.kind](session, config, t, now):
            changed[row.id] = row
    return list(changed.values())


def _fired(session: Session, config: OpsbookConfig, t: AlertTransition, now: datetime) -> list[IncidentRow]:
    settings = config.incidents
    if not settings.opens(t.severity):
        return []
    if session.scalar(select(IncidentAlertRow.id).where(IncidentAlertRow.alert_id == t.alert_id,
                                                        IncidentAlertRow.resolved_at.is_(None))):
        return []  # already linked (the hook ran twice, or it joined its root cause's incident)
    system = Tx(session, now, SYSTEM)
    root = cause_of(session.scalar(select(AlertRow.silenced_by).where(AlertRow.id == t.alert_id)))
    row = (_find_open_for_service(session, service_of(root), datetime.min.replace(tzinfo=now.tzinfo))
           if root else None) or _find_open_for_service(session, t.service, now - settings.grouping_window)
    if row is not None:
        _link_alert(session, row, t, now)
        changes = [Change(add_entry(session, row, now, "alert_joined", f"Alert joined: {_alert_name(t)}",
                                    t.source, alert_id=t.alert_id, severity=t.severity.value,
                                    silenced=t.silenced))]
        if t.severity.rank < Severity.parse(row.severity).rank:
            entry = lifecycle.change_severity(session, config, row, t.severity, now, SYSTEM,
                                              f"a {t.severity.value} alert joined")
            changes.append(Change(entry))
        row.updated_at = now
        lifecycle.record(system, changes)
        return [row]
    if t.silenced:
        return []
    alert = session.get(AlertRow, t.alert_id)
    row = lifecycle.open_incident(
        session, config, now, title=t.summary or f"{t.service}: {t.rule or t.dedup_key}",
        severity=t.severity, service=t.service, summary=t.message, source=t.source,
        # with no update channels of their own, the alert's firing message already told the channels
        announce=config.incidents.update_channels is not None,
        detected_at=detected_at(session, t.check_id or None, alert.pending_since if alert else None,
                                t.since),
        page=False,  # paged below, once the alert (and so its runbook) is linked
    )
    _link_alert(session, row, t, now)
    _attach_caused(session, row, t, now)
    advance(session, config, row, now)
    add_entry(session, row, now, "alert_joined", f"Opened by alert: {_alert_name(t)}", t.source,
              alert_id=t.alert_id, severity=t.severity.value)
    system.emit(DomainEvent(Topic.INCIDENTS, "opened", f"incident:{row.id}"))
    return [row]


def _attach_caused(session: Session, row: IncidentRow, t: AlertTransition, now: datetime) -> None:
    """The alerts the opening alert causes (fired in the same batch) join before anyone is paged, so the
    page names every affected service."""
    for alert in caused_alerts(session, t.service, t.check_id):
        caused = transition_of(alert, TransitionKind.FIRED, now)
        _link_alert(session, row, caused, now)
        add_entry(session, row, now, "alert_joined", f"Alert joined: {_alert_name(caused)} "
                  f"({alert.silenced_by})", caused.source, alert_id=alert.id, severity=caused.severity.value,
                  silenced=True)


def detach(session: Session, config: OpsbookConfig, alert_id: int, now: datetime, text: str) -> None:
    """An alert leaves the incidents it is linked to (its cause recovered, it pages on its own): its links
    end, `text` is recorded, and an incident left with no open alert resolves as if they all resolved."""
    system = Tx(session, now, SYSTEM)
    links = session.scalars(
        select(IncidentAlertRow).where(IncidentAlertRow.alert_id == alert_id,
                                       IncidentAlertRow.resolved_at.is_(None))
    ).all()
    for link in links:
        link.resolved_at = now
        row = lock(session, link.incident_id)
        if row.status == RESOLVED:
            continue
        changes = [Change(add_entry(session, row, now, "alert_detached", text, "opsbook", alert_id=alert_id))]
        session.flush()
        open_left = session.scalar(select(IncidentAlertRow.id).where(
            IncidentAlertRow.incident_id == row.id, IncidentAlertRow.resolved_at.is_(None)).limit(1))
        if open_left is None and config.incidents.auto_resolve:
            changes += lifecycle.resolve(session, config, row.id, now, SYSTEM, "all its alerts resolved")
        row.updated_at = now
        lifecycle.record(system, changes)


def _resolved(
    session: Session, config: OpsbookConfig, t: AlertTransition, now: datetime
) -> list[IncidentRow]:
    system = Tx(session, now, SYSTEM)
    changed: list[IncidentRow] = []
    links = session.scalars(
        select(IncidentAlertRow).where(IncidentAlertRow.alert_id == t.alert_id,
                                       IncidentAlertRow.resolved_at.is_(None))
    ).all()
    for link in links:
        link.resolved_at = t.resolved_at or now
        row = lock(session, link.incident_id)
        if row.status == RESOLVED:
            continue
        changes = [Change(add_entry(session, row, now, "alert_resolved", f"Alert resolved: {_alert_name(t)}",
                                    t.source, alert_id=t.alert_id))]
        session.flush()
        open_left = session.scalar(
            select(IncidentAlertRow.id).where(IncidentAlertRow.incident_id == row.id,
                                              IncidentAlertRow.resolved_at.is_(None)).limit(1)
        )
        if open_left is None and config.incidents.auto_resolve:
            changes += lifecycle.resolve(session, config, row.id, now, SYSTEM, "all its alerts resolved")
        elif open_left is None:
            text = "All alerts resolved; the incident stays open until someone resolves it"
            entry = add_entry(session, row, now, "all_alerts_resolved", text, "opsbook")
            changes.append(Change(entry))
            if config.incidents.update_channels is not None:  # else the alert's resolve told them
                post_update(session, config, row, now, entry)
        row.updated_at = now
        lifecycle.record(system, changes)
        changed.append(row)
    return changed


def _acknowledged(session: Session, config: OpsbookConfig, t: AlertTransition,
                  now: datetime) -> list[IncidentRow]:
    """An external tool acknowledged the alert: its incidents are acknowledged (and audited) by it."""
    acked: list[IncidentRow] = []
    source = Principal(t.source, Role.RESPONDER, t.source)
    links = session.scalars(select(IncidentAlertRow).where(IncidentAlertRow.alert_id == t.alert_id)).all()
    for link in links:
        row = lock(session, link.incident_id)
        if row.status == RESOLVED or row.acknowledged_at is not None:
            continue
        lifecycle.record(Tx(session, now, source),
                         lifecycle.acknowledge(session, config, row.id, now, source, via=t.source))
        acked.append(row)
    return acked


_HANDLERS: dict[
    TransitionKind, Callable[[Session, OpsbookConfig, AlertTransition, datetime], list[IncidentRow]]
] = {
    TransitionKind.FIRED: _fired,
    TransitionKind.RESOLVED: _resolved,
    TransitionKind.ACKNOWLEDGED: _acknowledged,
}
