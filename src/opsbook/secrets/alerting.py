"""The alerts and the incident the secrets domain raises itself, through the alert machinery.

A rotation failure (the hook) and a compromise are external alerts of source `secrets` on the service
`secrets`, with the secret's rotation procedure as their runbook. They go through the same path as every
alert: mute, route and notify (`alerts.dispatch.Dispatcher`), and incidents. A failure's alert opens or
joins an incident as any alert does; a compromise opens an incident of its own at once, whose SLA deadline
is the emergency rotation deadline and whose runbook (from the linked alert) is the rotation procedure.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.alerts.dispatch import Dispatcher, config_dir
from opsbook.alerts.external import ExternalEvent, apply_external
from opsbook.alerts.models import AlertRow
from opsbook.alerts.state import ExternalAction
from opsbook.alerts.types import AlertTransition
from opsbook.incidents import lifecycle
from opsbook.incidents.linking import on_alert_transitions
from opsbook.incidents.models import RESOLVED, IncidentAlertRow, IncidentRow
from opsbook.incidents.paging import advance
from opsbook.incidents.records import add_entry
from opsbook.runbooks.commands import run_command
from opsbook.runtime import Runtime
from opsbook.secrets.checks import SERVICE
from opsbook.secrets.config import SecretConfig
from opsbook.timefmt import show_time
from opsbook.usecase import Tx

SOURCE = "secrets"


def deliver(runtime: Runtime, session: Session, transitions: Sequence[AlertTransition], now: datetime,
            incidents: bool = True) -> None:
    """What the pipeline does with alert changes, in this transaction: mute, notify, incidents."""
    if not transitions:
        return
    dispatcher = Dispatcher(runtime.config, config_dir(runtime.loaded.path))
    marked = dispatcher.mark_muted(session, transitions, now)
    dispatcher(session, marked, now)
    if incidents:
        on_alert_transitions(session, runtime.config, marked, now)


def _event(secret: SecretConfig, key: str, action: ExternalAction, summary: str) -> ExternalEvent:
    return ExternalEvent(SOURCE, f"{key}:{secret.name}", action, SERVICE, secret.urgent_severity, summary,
                         labels={"secret": secret.name, "owner": secret.owner}, runbook=secret.rotation,
                         check_id=f"{SERVICE}/{secret.name}")


def rotation_failed(runtime: Runtime, session: Session, secret: SecretConfig, message: str,
                    now: datetime) -> list[AlertTransition]:
    summary = f"Secret {secret.name}: rotation failed: {message}"[:1000]
    event = _event(secret, "rotation-failed", ExternalAction.TRIGGER, summary)
    transitions = apply_external(session, event, now)
    deliver(runtime, session, transitions, now)
    return transitions


def compromised(runtime: Runtime, tx: Tx, secret: SecretConfig, reason: str,
                due: datetime) -> tuple[IncidentRow, int | None]:
    """The compromise's alert and its own incident (SLA: the emergency deadline); pages at once."""
    session, now = tx.session, tx.now
    zone = runtime.config.timezone
    summary = f"Secret {secret.name} compromised: rotate by {show_time(due, zone)} ({reason})"[:1000]
    transitions = apply_external(session, _event(secret, f"compromised-{now:%Y%m%dT%H%M%S}",
                                                 ExternalAction.TRIGGER, summary), now)
    row = lifecycle.open_incident(
        session, runtime.config, now, title=summary, severity=secret.urgent_severity, service=SERVICE,
        summary=f"{reason}\nProtects: {secret.protects or '-'}; owner: {secret.owner}", source=SOURCE,
        actor=tx.actor, page=False, announce=False,
    )
    row.ack_deadline = due
    alert_id = transitions[0].alert_id if transitions else None
    for t in transitions:
        session.add(IncidentAlertRow(
            incident_id=row.id, alert_id=t.alert_id, dedup_key=t.dedup_key, service=t.service,
            check_id=t.check_id, rule=t.rule, severity=t.severity.value, summary=t.summary, source=t.source,
            pending_since=None, fired_at=t.since, joined_at=now, resolved_at=None,
        ))
    run = run_command(runtime.config.server, secret.rotation, row.id) if secret.rotation else ""
    procedure = f"; rotation procedure: \"{secret.rotation}\" ({run})" if secret.rotation else ""
    add_entry(session, row, now, "note", f"Emergency rotation due by {show_time(due, zone)} (the SLA "
              f"deadline){procedure}; recording the rotation resolves this incident", "opsbook")
    session.flush()
    advance(session, runtime.config, row, now)
    deliver(runtime, session, transitions, now, incidents=False)
    return row, alert_id


def rotated(runtime: Runtime, tx: Tx, secret: SecretConfig, incident_ids: Sequence[int], note: str) -> None:
    """A rotation ends the secret's failure and compromise alerts and resolves the compromises' incidents."""
    session, now = tx.session, tx.now
    transitions: list[AlertTransition] = []
    keys = session.scalars(select(AlertRow.dedup_key).where(
        AlertRow.source == SOURCE, AlertRow.open_key.is_not(None),
        AlertRow.dedup_key.like(f"%:{secret.name}"))).all()
    for key in keys:
        kind = key.rsplit(":", 1)[0]
        transitions += apply_external(session, _event(secret, kind, ExternalAction.RESOLVE, note), now)
    deliver(runtime, session, transitions, now)
    for incident_id in incident_ids:
        row = session.get(IncidentRow, incident_id)
        if row is not None and row.status != RESOLVED:
            lifecycle.record(tx, lifecycle.resolve(session, runtime.config, incident_id, now, tx.actor, note))
