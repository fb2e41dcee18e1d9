"""AlertEngine over a real store (SQLite and PostgreSQL): timing, dedup, damping, restart safety."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from opsbook.alerts.models import AlertEventRow, AlertRow
from opsbook.alerts.service import AlertEngine, list_alerts
from opsbook.alerts.types import TransitionKind
from opsbook.rules.severity import Severity
from tests.alerts.conftest import CONFIG, Harness, load


def states(h: Harness) -> list[tuple[str, str | None, str]]:
    with h.sessions() as session:
        rows = session.scalars(select(AlertRow).order_by(AlertRow.id))
        return [(r.dedup_key, r.rule, r.state) for r in rows]


def test_p95_fires_at_exactly_five_minutes_of_breach(harness: Harness) -> None:
    h = harness
    start = h.clock.now()
    for _ in range(10):
        assert h.tick("api/health", latency=100.0) == []
    # slow from here: the condition (p95 over the last 5 minutes > 500) is true from the 2nd slow result
    fired = []
    breach = None
    for i in range(30):
        out = h.tick("api/health", latency=900.0)
        with h.sessions() as session:
            row = session.scalars(select(AlertRow).where(AlertRow.rule == "api-p95")).first()
        if row is not None and breach is None:
            breach = row.pending_since
            assert row.state == "pending" and breach == h.clock.now()
        fired += [(i, t) for t in out]
        if fired:
            break
    assert breach is not None
    ((_, t),) = fired
    assert t.kind is TransitionKind.FIRED and t.rule == "api-p95"
    assert t.at - breach == timedelta(minutes=5)  # exactly: not at 4m30s
    assert t.since == t.at
    assert (t.severity, t.runbook) == (Severity.P1, "API Not Responding")
    assert t.summary == "API p95 900 ms > 500 ms"
    assert t.check_id == "api/health" and t.check == "health" and t.service == "api"
    assert t.threshold == 500.0 and t.value == 900.0
    assert t.dedup_key == "api/health:api-p95"
    assert t.notification_key() == f"alert:{t.alert_id}:fired"
    assert t.template_context()["since"] == t.at
    assert start < breach


def test_three_consecutive_failures_fire_on_the_third_and_resolve(harness: Harness) -> None:
    h = harness
    assert h.tick("api/health", "down") == []
    assert h.tick("api/health", "down") == []
    (t,) = h.tick("api/health", "down", message="connection refused")
    assert (t.kind, t.rule, t.value, t.severity) == (TransitionKind.FIRED, "failures", 3.0, Severity.P2)
    assert "connection refused" in t.message
    assert t.summary == "api/health failed 3 times in a row"
    assert h.tick("api/health", "down") == []  # still firing: no second page
    (r,) = h.tick("api/health", "up")
    assert (r.kind, r.alert_id, r.resolved_at) == (TransitionKind.RESOLVED, t.alert_id, h.clock.now())
    assert r.since == t.since
    with h.sessions() as session:
        events = session.scalars(select(AlertEventRow).where(AlertEventRow.alert_id == t.alert_id)
                                 .order_by(AlertEventRow.id)).all()
        pairs = [(e.from_state, e.to_state) for e in events]
        assert pairs == [("inactive", "firing"), ("firing", "resolved")]
        row = session.get(AlertRow, t.alert_id)
        assert row is not None and row.open_key is None and row.state == "resolved"
    # a new episode is a new alert row with the same dedup key
    for _ in range(2):
        h.tick("api/health", "down")
    (again,) = h.tick("api/health", "down")
    assert again.kind is TransitionKind.FIRED and again.alert_id != t.alert_id
    assert again.dedup_key == t.dedup_key


def test_flap_damping_holds_the_resolve_until_min_firing(harness: Harness) -> None:
    h = harness
    (fired,) = h.tick("api/flappy", latency=300.0)
    assert fired.rule == "slow"
    assert h.tick("api/flappy", latency=50.0) == []  # too early to resolve: waits
    with h.sessions() as session:
        assert h.engine.next_due(session) == fired.at + timedelta(minutes=5)
    assert h.tick("api/flappy", latency=300.0) == []  # back: the waiting resolve is cancelled
    h.tick("api/flappy", latency=50.0)
    with h.sessions() as session:
        row = session.get(AlertRow, fired.alert_id)
        assert row is not None and row.state == "firing" and row.clear_since == h.clock.now()
    # no new results: the due timer resolves it at exactly fired_at + 5m
    h.clock._now = fired.at + timedelta(minutes=5) - timedelta(seconds=1)
    assert h.due() == []
    h.clock._now = fired.at + timedelta(minutes=5)
    (resolved,) = h.due()
    assert resolved.kind is TransitionKind.RESOLVED and resolved.alert_id == fired.alert_id


def test_pending_fires_from_the_due_timer_without_new_results(harness: Harness) -> None:
    h = harness
    h.tick("jobs/nightly", "down", message="no ping since 09:00")
    with h.sessions() as session:
        assert h.engine.next_due(session) == h.clock.now() + timedelta(minutes=2)
    h.clock._now += timedelta(minutes=1, seconds=59)
    assert h.due() == []
    h.clock._now += timedelta(seconds=1)
    (t,) = h.due()
    assert (t.kind, t.severity, t.rule) == (TransitionKind.FIRED, Severity.P0, "heartbeat-missing-for-2m")
    assert "no ping since 09:00" in t.message
    with h.sessions() as session:
        assert h.engine.next_due(session) is None


def test_pending_that_clears_goes_inactive_without_transitions(harness: Harness) -> None:
    h = harness
    key = ("jobs/nightly:heartbeat-missing-for-2m", "heartbeat-missing-for-2m")
    assert h.tick("jobs/nightly", "down", step=timedelta(minutes=1)) == []
    assert states(h) == [(*key, "pending")]
    assert h.tick("jobs/nightly", "up", step=timedelta(minutes=1)) == []
    assert states(h) == [(*key, "inactive")]
    with h.sessions() as session:
        assert list_alerts(session) == []  # inactive rows are not listed by default
        assert len(list_alerts(session, include_inactive=True)) == 1
        assert h.engine.next_due(session) is None
    # the same row is used again, and the hold starts over
    assert h.tick("jobs/nightly", "down", step=timedelta(minutes=1)) == []
    assert h.tick("jobs/nightly", "down", step=timedelta(minutes=1)) == []
    (t,) = h.tick("jobs/nightly", "down", step=timedelta(minutes=1))
    assert t.kind is TransitionKind.FIRED
    assert states(h) == [(*key, "firing")]


def test_restart_neither_forgets_nor_fires_twice_and_announces_a_resolve(harness: Harness) -> None:
    h = harness
    for _ in range(2):
        h.tick("api/health", "down")
    (fired,) = h.tick("api/health", "down")
    # "restart": a new engine from the same config, nothing in memory
    second = AlertEngine(load(CONFIG).config)
    h.clock._now += timedelta(seconds=30)
    h.write("api/health", "down")
    assert h.process("api/health", engine=second) == []  # still firing: not paged again
    # opsbook is down for an hour; the check recovered meanwhile
    h.clock._now += timedelta(hours=1)
    third = AlertEngine(load(CONFIG).config)
    h.write("api/health", "up")
    out = h.process("api/health", engine=third)
    assert [(t.kind, t.alert_id) for t in out] == [(TransitionKind.RESOLVED, fired.alert_id)]
    assert h.process("api/health", engine=third) == []


def test_a_removed_rule_resolves_its_firing_alert(harness: Harness) -> None:
    h = harness
    (fired,) = h.tick("api/flappy", latency=300.0)
    without = AlertEngine(load(CONFIG.replace("latency_ms > 100", "latency_ms > 100000")
                               .replace("name: slow", "name: slower")).config)
    with h.sessions.begin() as session:
        out = without.reconcile(session, h.clock.now())
    assert [(t.kind, t.alert_id, t.message) for t in out] == [
        (TransitionKind.RESOLVED, fired.alert_id, "the rule is no longer in the configuration")
    ]


def test_batch_of_many_checks(harness: Harness) -> None:
    from opsbook.checks.result import CheckResult, Status, StoredResult
    from opsbook.checks.store import write_batch

    text = "services:\n  - name: s\n    checks:\n" + "".join(
        f"      - {{name: c{i}, kind: tcp, host: 127.0.0.1, port: 1, interval: 10s, failures: 2}}\n"
        for i in range(600)
    )
    engine = AlertEngine(load(text).config)
    h = harness
    ids = [f"s/c{i}" for i in range(600)]  # more than one IN (...) chunk
    fired = []
    for _ in range(2):
        h.clock._now += timedelta(seconds=10)
        with h.sessions.begin() as session:
            write_batch(session, [StoredResult(c, h.clock.now(), CheckResult(Status.DOWN if i % 3 == 0
                                  else Status.UP, 5.0)) for i, c in enumerate(ids)])
            fired += engine.process(session, ids, h.clock.now())
    assert sorted(t.check_id or "" for t in fired) == sorted(ids[::3])
    with h.sessions() as session:
        assert session.scalar(select(func.count()).select_from(AlertRow)) == 200


def test_a_long_for_on_a_last_value_rule_fires_from_the_timer(harness: Harness) -> None:
    text = CONFIG.replace("when: heartbeat missing for 2m", "when: heartbeat missing for 30m")
    engine = AlertEngine(load(text).config)
    h = harness
    h.write("jobs/nightly", "down")
    assert h.process("jobs/nightly", engine=engine) == []
    h.clock._now += timedelta(minutes=30)
    (t,) = h.due(engine)
    assert t.kind is TransitionKind.FIRED
