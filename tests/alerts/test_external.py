"""External events and opsbook's own alerts in the store: through the state machine, into the alert's
history, and out as ALERTS domain events after commit (on both databases)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from opsbook.alerts.external import ExternalEvent, apply_external
from opsbook.alerts.models import AlertEventRow, AlertRow
from opsbook.alerts.selfalert import clear_self_alert, raise_self_alert
from opsbook.alerts.service import AlertEngine
from opsbook.alerts.state import ExternalAction
from opsbook.alerts.types import AlertTransition, TransitionKind
from opsbook.rules.severity import Severity
from tests.alerts.conftest import Harness, load

FIRED, ACKED, RESOLVED = TransitionKind.FIRED, TransitionKind.ACKNOWLEDGED, TransitionKind.RESOLVED


def pd(action: ExternalAction, summary: str = "", severity: Severity = Severity.P2) -> ExternalEvent:
    payload = {"action": action.value}
    return ExternalEvent("pagerduty", "srv01/mysql", action, "db", severity, summary, payload)


def apply(h: Harness, event: ExternalEvent) -> list[AlertTransition]:
    h.clock._now += timedelta(minutes=1)
    with h.sessions.begin() as session:
        return apply_external(session, event, h.clock.now())


def history(h: Harness) -> list[tuple[int, str | None, str, str]]:
    with h.sessions() as session:
        rows = session.scalars(select(AlertEventRow).order_by(AlertEventRow.id))
        return [(e.alert_id, e.from_state, e.to_state, e.message) for e in rows]


Events = list[tuple[str, str]]


def test_trigger_acknowledge_resolve_of_one_key(harness: Harness, alert_events: Events) -> None:
    h = harness
    sequence = [
        pd(ExternalAction.TRIGGER, "disk 99%", Severity.P1),
        pd(ExternalAction.TRIGGER, "disk 100%", Severity.P0),  # re-trigger: refreshed, not re-fired
        pd(ExternalAction.ACKNOWLEDGE),
        pd(ExternalAction.ACKNOWLEDGE),  # once is enough
        pd(ExternalAction.RESOLVE, "disk cleaned"),
        pd(ExternalAction.RESOLVE),  # nothing open any more
        pd(ExternalAction.ACKNOWLEDGE),
    ]
    kinds = [[t.kind for t in apply(h, e)] for e in sequence]
    assert kinds == [[FIRED], [], [ACKED], [], [RESOLVED], [], []]
    with h.sessions() as session:
        (row,) = session.scalars(select(AlertRow))
        assert (row.state, row.severity, row.summary, row.message, row.open_key) == (
            "resolved", "P0", "disk 100%", "disk cleaned", None)
        assert row.payload == {"action": "resolve"}
    assert history(h) == [
        (row.id, "inactive", "firing", "disk 99%"),
        (row.id, "firing", "acknowledged", "acknowledged"),
        (row.id, "firing", "resolved", "disk cleaned"),
    ]
    subject = f"alert:{row.id}"
    assert alert_events == [("fired", subject), ("acknowledged", subject), ("resolved", subject)]
    (again,) = apply(h, pd(ExternalAction.TRIGGER, "disk 99% again"))  # after the resolve: a new alert
    assert again.kind is FIRED and again.alert_id != row.id


def test_transitions_carry_the_alert(harness: Harness) -> None:
    (fired,) = apply(harness, pd(ExternalAction.TRIGGER, "disk 99%", Severity.P1))
    (acked,) = apply(harness, pd(ExternalAction.ACKNOWLEDGE))
    (resolved,) = apply(harness, pd(ExternalAction.RESOLVE, "disk cleaned"))
    assert (fired.source, fired.service, fired.severity, fired.summary, fired.dedup_key) == (
        "pagerduty", "db", Severity.P1, "disk 99%", "srv01/mysql")
    assert fired.since == acked.since == resolved.since == fired.at
    assert resolved.resolved_at == resolved.at and resolved.message == "disk cleaned"


def test_a_rolled_back_event_emits_nothing(harness: Harness, alert_events: Events) -> None:
    h = harness
    with pytest.raises(RuntimeError), h.sessions.begin() as session:
        assert apply_external(session, pd(ExternalAction.TRIGGER, "x"), h.clock.now())
        raise RuntimeError("the hook failed")
    assert alert_events == []
    with h.sessions() as session:
        assert session.scalars(select(AlertRow)).all() == []


def test_self_alert_raise_refresh_and_clear(harness: Harness, alert_events: Events) -> None:
    h = harness
    with h.sessions.begin() as session:
        (fired,) = raise_self_alert(session, "loop-down:escalation", "escalation fails: boom", Severity.P1,
                                    h.clock.now(), {"failures": 1})
    assert (fired.kind, fired.source, fired.service, fired.severity, fired.dedup_key) == (
        FIRED, "opsbook", "opsbook", Severity.P1, "loop-down:escalation")
    h.clock._now += timedelta(minutes=1)
    with h.sessions.begin() as session:
        assert raise_self_alert(session, "loop-down:escalation", "escalation fails: bang", Severity.P1,
                                h.clock.now()) == []
        assert clear_self_alert(session, "notify-failing:sms", h.clock.now(), "never raised") == []
    h.clock._now += timedelta(minutes=1)
    with h.sessions.begin() as session:
        (cleared,) = clear_self_alert(session, "loop-down:escalation", h.clock.now(), "it works again")
        assert clear_self_alert(session, "loop-down:escalation", h.clock.now(), "again") == []
    assert (cleared.kind, cleared.alert_id, cleared.message, cleared.summary) == (
        RESOLVED, fired.alert_id, "it works again", "escalation fails: bang")
    assert [to for _, _, to, _ in history(h)] == ["firing", "resolved"]
    assert alert_events == [("fired", f"alert:{fired.alert_id}"), ("resolved", f"alert:{fired.alert_id}")]


def test_rule_transitions_emit_events_from_results_the_timer_and_reconcile(
    harness: Harness, alert_events: Events
) -> None:
    h = harness
    h.tick("jobs/nightly", "down", message="missed")  # pending: no transition, no event
    assert alert_events == []
    h.clock._now += timedelta(minutes=2)
    (fired,) = h.due()
    (flappy,) = h.tick("api/flappy", latency=300.0)
    assert alert_events == [("fired", f"alert:{fired.alert_id}"), ("fired", f"alert:{flappy.alert_id}")]
    without_rules = AlertEngine(load("services:\n  - name: api\n").config)
    with h.sessions.begin() as session:
        resolved = without_rules.reconcile(session, h.clock.now())
    assert sorted(t.alert_id for t in resolved) == sorted([fired.alert_id, flappy.alert_id])
    assert sorted(alert_events[2:]) == sorted(("resolved", f"alert:{t.alert_id}") for t in resolved)
