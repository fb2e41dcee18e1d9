"""The alert state machine, pure: given an alert's status and what happened, the next status.

Every change of an alert's state is decided here (and written by `alerts.changes`): a rule's evaluation
(`step`), an event from another tool or from opsbook itself (`external`), and the retirement of an alert
whose rule is gone (`retire`).

A rule alert, evaluated on results:

    inactive ──true──▶ pending ──true, held ≥ for──▶ firing ──false, fired ≥ min_firing──▶ resolved
        ▲                 │                             │  ▲
        └────false────────┘            false, too early │  │ true again: the resolve is cancelled
                                        (resolve waits) ▼  │
                                                   firing, clear_since set

Precisely, at an evaluation at time `now` whose condition is `active`:
- inactive or resolved, active: pending with `pending_since = now`; if `hold` is 0 it fires at once.
- pending, active: fires when `now - pending_since >= hold` (so `for 5m` fires at exactly 5 minutes, not
  before); otherwise stays pending.
- pending, not active: back to inactive (the hold starts again next time).
- firing, not active: resolved when `now - fired_at >= min_firing`; otherwise the resolve waits
  (`clear_since` records since when), and `due_at` says when to evaluate again.
- firing, active: stays firing; a waiting resolve is cancelled.

An external alert (PagerDuty, Alertmanager, opsbook's own), on an event:
- trigger: fires at once (no hold); a trigger of a firing alert changes nothing here (the caller
  refreshes its summary and payload: no second page).
- acknowledge: a firing alert records when it was first acknowledged; anything else is unchanged.
- resolve: a firing alert is resolved, a pending one goes back to inactive; anything else is unchanged.

`due_at` is the instant an alert must be evaluated again even without new results (a pending alert's
`pending_since + hold`, a waiting resolve's `fired_at + min_firing`); None when nothing is due.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum


class AlertState(StrEnum):
    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


class ExternalAction(StrEnum):
    """What another tool says about an alert (PagerDuty's `event_action` words)."""

    TRIGGER = "trigger"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


@dataclass(frozen=True, slots=True)
class AlertStatus:
    """The part of an alert the state machine reads and writes."""

    state: AlertState = AlertState.INACTIVE
    pending_since: datetime | None = None
    fired_at: datetime | None = None
    resolved_at: datetime | None = None
    clear_since: datetime | None = None
    due_at: datetime | None = None
    acknowledged_at: datetime | None = None


INACTIVE = AlertStatus()


def step(
    current: AlertStatus, active: bool, now: datetime, hold: timedelta, min_firing: timedelta = timedelta(0)
) -> AlertStatus:
    """The next status after a rule's evaluation at `now`. A changed `.state` is a transition to record."""
    state = current.state
    if state in (AlertState.INACTIVE, AlertState.RESOLVED):
        if not active:
            return current
        pending = AlertStatus(AlertState.PENDING, pending_since=now)
        return _maybe_fire(pending, now, hold)
    if state is AlertState.PENDING:
        if not active:
            return INACTIVE
        return _maybe_fire(current, now, hold)
    # firing
    if active:
        return replace(current, clear_since=None, due_at=None)
    assert current.fired_at is not None
    release = current.fired_at + min_firing
    if now >= release:
        return _resolved(current, now)
    return replace(current, clear_since=current.clear_since or now, due_at=release)


def external(current: AlertStatus, action: ExternalAction, now: datetime) -> AlertStatus:
    """The next status after another tool's event about this alert."""
    state = current.state
    if action is ExternalAction.TRIGGER:
        if state is AlertState.FIRING:
            return current
        since = current.pending_since if state is AlertState.PENDING else now
        return AlertStatus(AlertState.FIRING, pending_since=since, fired_at=now)
    if action is ExternalAction.ACKNOWLEDGE:
        if state is AlertState.FIRING and current.acknowledged_at is None:
            return replace(current, acknowledged_at=now)
        return current
    return retire(current, now)


def retire(current: AlertStatus, now: datetime) -> AlertStatus:
    """The alert can no longer fire (resolved by its tool, or its rule is gone): a firing alert is
    resolved, a pending one goes back to inactive, nothing is due any more."""
    if current.state is AlertState.FIRING:
        return _resolved(current, now)
    if current.state is AlertState.PENDING:
        return INACTIVE
    return current


def _resolved(current: AlertStatus, now: datetime) -> AlertStatus:
    return replace(current, state=AlertState.RESOLVED, resolved_at=now, clear_since=None, due_at=None)


def _maybe_fire(pending: AlertStatus, now: datetime, hold: timedelta) -> AlertStatus:
    assert pending.pending_since is not None
    deadline = pending.pending_since + hold
    if now >= deadline:
        return AlertStatus(AlertState.FIRING, pending_since=pending.pending_since, fired_at=now)
    return replace(pending, due_at=deadline)
