"""The pure alert state machine: exact `for` timing, consecutive failures, flap damping, invariants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from opsbook.alerts.state import INACTIVE, AlertState, AlertStatus, step
from opsbook.rules.evaluate import Sample, evaluate
from opsbook.rules.expr import parse

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
EVERY = timedelta(seconds=30)


def run(when: str, statuses: list[tuple[str, float]], min_firing: timedelta = timedelta(0),
        ) -> list[AlertState]:
    """Feed one result every 30 s (evaluating at its timestamp) and return the state after each."""
    expr = parse(when)
    samples: list[Sample] = []
    status = INACTIVE
    states = []
    for i, (st_, latency) in enumerate(statuses):
        now = T0 + i * EVERY
        samples.append(Sample(now, st_, latency))
        ev = evaluate(expr, samples, now)
        status = step(status, ev.active, now, expr.hold, min_firing)
        states.append(status.state)
    return states


def test_p95_for_5m_fires_at_exactly_five_minutes_of_breach() -> None:
    expr = parse("p95(latency_ms) > 500 for 5m")
    samples = [Sample(T0 + i * EVERY, "up", 600.0) for i in range(40)]
    status = INACTIVE
    breach_start = None
    fired_at = None
    for s in samples:
        ev = evaluate(expr, samples, s.ts)
        assert ev.active  # every window only holds slow results
        status = step(status, ev.active, s.ts, expr.hold)
        breach_start = breach_start or status.pending_since
        if status.state is AlertState.FIRING and fired_at is None:
            fired_at = s.ts
    assert breach_start == T0
    assert fired_at == T0 + timedelta(minutes=5)  # the 11th result, not the 10th at 4m30s


def test_for_is_counted_from_the_first_true_evaluation_not_from_the_first_slow_result() -> None:
    # 10 fast results fill the window, then slow ones: p95 crosses 500 once two slow results are in
    # the 5-minute window (rank 8.55 of 10), so the breach of the *condition* starts at the 12th result.
    statuses = [("up", 100.0)] * 10 + [("up", 600.0)] * 20
    states = run("p95(latency_ms) > 500 for 5m", statuses)
    first_pending = states.index(AlertState.PENDING)
    assert first_pending == 11
    assert states.index(AlertState.FIRING) == first_pending + 10  # 10 x 30 s = exactly 5 minutes
    assert all(s is AlertState.PENDING for s in states[first_pending:first_pending + 10])


def test_three_consecutive_failures_fire_on_the_third() -> None:
    states = run("failures >= 3", [("up", 1), ("down", 1), ("down", 1), ("up", 1), ("down", 1),
                                   ("down", 1), ("down", 1), ("down", 1), ("up", 1)])
    assert states == [AlertState.INACTIVE, AlertState.INACTIVE, AlertState.INACTIVE, AlertState.INACTIVE,
                      AlertState.INACTIVE, AlertState.INACTIVE, AlertState.FIRING, AlertState.FIRING,
                      AlertState.RESOLVED]


def test_pending_that_clears_goes_back_to_inactive_and_starts_over() -> None:
    hold = timedelta(minutes=5)
    s = step(INACTIVE, True, T0, hold)
    assert (s.state, s.pending_since, s.due_at) == (AlertState.PENDING, T0, T0 + hold)
    s = step(s, True, T0 + timedelta(minutes=4, seconds=59), hold)
    assert s.state is AlertState.PENDING
    s = step(s, False, T0 + timedelta(minutes=5), hold)
    assert s == AlertStatus(AlertState.INACTIVE)
    s = step(s, True, T0 + timedelta(minutes=6), hold)
    assert s.pending_since == T0 + timedelta(minutes=6)
    assert step(s, True, T0 + timedelta(minutes=11), hold).state is AlertState.FIRING


def test_flap_damping_waits_and_is_cancelled_when_the_condition_returns() -> None:
    hold, damping = timedelta(0), timedelta(minutes=10)
    s = step(INACTIVE, True, T0, hold, damping)
    assert (s.state, s.fired_at) == (AlertState.FIRING, T0)
    s = step(s, False, T0 + timedelta(minutes=2), hold, damping)
    assert (s.state, s.clear_since, s.due_at) == (AlertState.FIRING, T0 + timedelta(minutes=2),
                                                  T0 + damping)
    s = step(s, True, T0 + timedelta(minutes=3), hold, damping)  # back: the resolve is cancelled
    assert (s.state, s.clear_since, s.due_at) == (AlertState.FIRING, None, None)
    s = step(s, False, T0 + timedelta(minutes=4), hold, damping)
    s = step(s, False, T0 + timedelta(minutes=9, seconds=59), hold, damping)
    assert s.state is AlertState.FIRING and s.clear_since == T0 + timedelta(minutes=4)
    s = step(s, False, T0 + damping, hold, damping)
    assert (s.state, s.resolved_at, s.fired_at) == (AlertState.RESOLVED, T0 + damping, T0)


def test_resolved_alert_can_fire_again() -> None:
    s = step(INACTIVE, True, T0, timedelta(0))
    s = step(s, False, T0 + EVERY, timedelta(0))
    assert s.state is AlertState.RESOLVED
    s = step(s, True, T0 + 2 * EVERY, timedelta(0))
    assert (s.state, s.fired_at, s.resolved_at) == (AlertState.FIRING, T0 + 2 * EVERY, None)


@given(
    st.lists(st.tuples(st.booleans(), st.integers(min_value=0, max_value=120)), max_size=60),
    st.integers(min_value=0, max_value=600),
    st.integers(min_value=0, max_value=600),
)
def test_invariants(evals: list[tuple[bool, int]], hold_s: int, damping_s: int) -> None:
    hold, damping = timedelta(seconds=hold_s), timedelta(seconds=damping_s)
    s = INACTIVE
    now = T0
    true_since: datetime | None = None
    for active, gap in evals:
        now += timedelta(seconds=gap)
        before = s
        s = step(s, active, now, hold, damping)
        true_since = (true_since or now) if active else None
        # never skips firing: resolved only from firing, firing only while the condition is true
        if s.state is AlertState.RESOLVED and before.state is not AlertState.RESOLVED:
            assert before.state is AlertState.FIRING and not active
            assert before.fired_at is not None and now - before.fired_at >= damping
        if s.state is AlertState.FIRING and before.state is not AlertState.FIRING:
            assert active and s.pending_since is not None
            assert now - s.pending_since >= hold
            # the condition was true at every evaluation since pending_since
            assert true_since is not None and true_since <= s.pending_since
        if s.state is AlertState.PENDING:
            assert active and s.due_at == s.pending_since + hold  # type: ignore[operator]
            assert now - s.pending_since < hold  # type: ignore[operator]
        if s.state is AlertState.FIRING:
            assert s.fired_at is not None and s.fired_at <= now
            assert (s.due_at is None) == (s.clear_since is None)
        if s.state is AlertState.INACTIVE:
            assert s == INACTIVE
