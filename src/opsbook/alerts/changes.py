"""Writing the state machine's decisions to the store: the one place an alert row's state changes.

Whoever moves an alert (rule evaluation, the due timer, reconcile, external events, opsbook's own alerts)
computes the next `AlertStatus` with `alerts.state` and hands it to `Changes.apply`, which writes it to the
row, records the change in the alert's history (`alert_events`) and notes the transition. `Changes.build`
then returns the transitions for the hooks and emits one `DomainEvent(Topic.ALERTS, kind, "alert:<id>")`
each, in the same transaction (published after it commits).

    changes = Changes(session)
    before = status_of(row)
    changes.apply(row, before, state.external(before, ExternalAction.RESOLVE, now), now, message="resolved")
    transitions = changes.build(now)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from opsbook.alerts.models import AlertEventRow, AlertRow
from opsbook.alerts.state import AlertState, AlertStatus
from opsbook.alerts.types import AlertTransition, TransitionKind
from opsbook.events import DomainEvent, Topic, emit
from opsbook.rules.severity import Severity

ACKNOWLEDGED = "acknowledged"
"""`to_state` of the history entry that records an acknowledgement (the state itself stays firing)."""


def new_alert(session: Session, *, dedup_key: str, open_key: str, now: datetime, **details: Any) -> AlertRow:
    """A new open alert, inactive until the state machine moves it (`details`: the other AlertRow fields)."""
    row = AlertRow(
        dedup_key=dedup_key,
        open_key=open_key,
        state=AlertState.INACTIVE.value,
        created_at=now,
        silenced=False,
        **details,
    )
    session.add(row)
    return row


def status_of(row: AlertRow) -> AlertStatus:
    return AlertStatus(
        AlertState(row.state),
        row.pending_since,
        row.fired_at,
        row.resolved_at,
        row.clear_since,
        row.due_at,
        row.acknowledged_at,
    )


def transition_of(row: AlertRow, kind: TransitionKind, at: datetime) -> AlertTransition:
    return AlertTransition(
        kind=kind,
        alert_id=row.id,
        dedup_key=row.dedup_key,
        source=row.source,
        service=row.service,
        check_id=row.check_id,
        rule=row.rule,
        severity=Severity.parse(row.severity),
        summary=row.summary,
        runbook=row.runbook,
        labels=dict(row.labels or {}),
        value=row.value,
        threshold=row.threshold,
        condition=row.condition,
        message=row.message,
        since=row.fired_at or row.created_at,
        at=at,
        resolved_at=row.resolved_at,
        silenced=bool(row.silenced),
    )


class Changes:
    """The alert changes of one transaction, turned into transitions once the rows have their ids."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.items: list[tuple[AlertRow, TransitionKind]] = []

    def apply(
        self,
        row: AlertRow,
        before: AlertStatus,
        new: AlertStatus,
        now: datetime,
        *,
        message: str,
        value: float | None = None,
        close: bool = False,
    ) -> None:
        """Move `row` from `before` (its `status_of`) to `new`. A changed state (or `close`) is recorded in
        the row's history, firing and resolving become transitions, and so does a first acknowledgement.
        A resolved alert is closed (its dedup key may open a new one); `close` closes it in any state (its
        rule is gone)."""
        if new != before:  # most events change nothing (a re-trigger, a rule alert that keeps firing)
            _write(row, new)
        if close or new.state is AlertState.RESOLVED:
            row.open_key = None
        if new.state is not before.state or close:
            self._history(row, now, before.state.value, new.state.value, value, message)
            if new.state is AlertState.FIRING:
                self.items.append((row, TransitionKind.FIRED))
            elif new.state is AlertState.RESOLVED and before.state is AlertState.FIRING:
                self.items.append((row, TransitionKind.RESOLVED))
        if new.acknowledged_at is not None and before.acknowledged_at is None:
            self._history(row, now, new.state.value, ACKNOWLEDGED, value, message)
            self.items.append((row, TransitionKind.ACKNOWLEDGED))

    def build(self, now: datetime) -> list[AlertTransition]:
        """The transitions, in the order they were applied; each emits its domain event."""
        if not self.items:
            return []
        self.session.flush()
        transitions = [transition_of(row, kind, now) for row, kind in self.items]
        emit(self.session, *(_event(t) for t in transitions))
        return transitions

    def _history(
        self, row: AlertRow, now: datetime, from_state: str, to_state: str, value: float | None, message: str
    ) -> None:
        self.session.add(AlertEventRow(
            alert=row, ts=now, from_state=from_state, to_state=to_state, value=value, message=message[:2000]
        ))


def _write(row: AlertRow, new: AlertStatus) -> None:
    row.state = new.state.value
    row.pending_since, row.fired_at, row.resolved_at = new.pending_since, new.fired_at, new.resolved_at
    row.clear_since, row.due_at, row.acknowledged_at = new.clear_since, new.due_at, new.acknowledged_at


def _event(transition: AlertTransition) -> DomainEvent:
    t = transition
    detail = {"service": t.service, "source": t.source, "severity": t.severity.value}
    return DomainEvent(Topic.ALERTS, t.kind.value, f"alert:{t.alert_id}", detail)
