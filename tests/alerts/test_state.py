"""The pure alert state machine: exact `for` timing, consecutive failures, flap damping, invariants; external
events (trigger, acknowledge, resolve) and the retirement of an alert whose rule is gone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from opsbook.alerts.state import INACTIVE, AlertState, AlertStatus, ExternalAction, external, retire, step
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


TRIGGER, ACK, RESOLVE = ExternalAction.TRIGGER, ExternalAction.ACKNOWLEDGE, ExternalAction.RESOLVE


def test_external_trigger_fires_at_once_and_a_retrigger_changes_nothing() -> None:
    fired = external(INACTIVE, TRIGGER, T0)
    assert fired == AlertStatus(AlertState.FIRING, pending_since=T0, fired_at=T0)
    assert external(fired, TRIGGER, T0 + EVERY) is fired  # no second fire, the original time is kept


def test_external_acknowledge_is_recorded_once_and_only_on_a_firing_alert() -> None:
    fired = external(INACTIVE, TRIGGER, T0)
    acked = external(fired, ACK, T0 + EVERY)
    assert acked == AlertStatus(AlertState.FIRING, T0, T0, acknowledged_at=T0 + EVERY)
    assert external(acked, ACK, T0 + 2 * EVERY) is acked  # the first acknowledgement stands
    assert external(INACTIVE, ACK, T0) is INACTIVE
    resolved = external(fired, RESOLVE, T0 + EVERY)
    assert external(resolved, ACK, T0 + 2 * EVERY) is resolved


def test_external_resolve_resolves_a_firing_alert_and_nothing_else() -> None:
    acked = external(external(INACTIVE, TRIGGER, T0), ACK, T0 + EVERY)
    resolved = external(acked, RESOLVE, T0 + 2 * EVERY)
    assert resolved == AlertStatus(AlertState.RESOLVED, T0, T0, T0 + 2 * EVERY, acknowledged_at=T0 + EVERY)
    assert external(resolved, RESOLVE, T0 + 3 * EVERY) is resolved
    assert external(INACTIVE, RESOLVE, T0) == INACTIVE
    pending = step(INACTIVE, True, T0, timedelta(minutes=5))
    assert external(pending, RESOLVE, T0 + EVERY) == INACTIVE


def test_a_trigger_after_the_resolve_is_a_new_episode() -> None:
    resolved = external(external(external(INACTIVE, TRIGGER, T0), ACK, T0 + EVERY), RESOLVE, T0 + 2 * EVERY)
    again = external(resolved, TRIGGER, T0 + 3 * EVERY)
    assert again == AlertStatus(AlertState.FIRING, pending_since=T0 + 3 * EVERY, fired_at=T0 + 3 * EVERY)


def test_an_acknowledgement_lasts_while_a_rule_alert_fires_and_not_into_the_next_episode() -> None:
    hold = timedelta(0)
    acked = external(step(INACTIVE, True, T0, hold), ACK, T0 + EVERY)
    still = step(acked, True, T0 + 2 * EVERY, hold)
    assert still.acknowledged_at == T0 + EVERY
    resolved = step(still, False, T0 + 3 * EVERY, hold)
    assert resolved.state is AlertState.RESOLVED and resolved.acknowledged_at == T0 + EVERY
    assert step(resolved, True, T0 + 4 * EVERY, hold).acknowledged_at is None


def test_retire_resolves_a_firing_alert_and_clears_anything_due() -> None:
    hold, damping = timedelta(0), EVERY * 10
    damped = step(step(INACTIVE, True, T0, hold, damping), False, T0 + EVERY, hold, damping)
    assert damped.due_at is not None
    assert retire(damped, T0 + 2 * EVERY) == AlertStatus(AlertState.RESOLVED, T0, T0, T0 + 2 * EVERY)
    assert retire(step(INACTIVE, True, T0, timedelta(minutes=5)), T0 + EVERY) == INACTIVE
    assert retire(INACTIVE, T0) == INACTIVE


@given(st.lists(st.tuples(st.sampled_from(list(ExternalAction)), st.integers(0, 600)), max_size=40))
def test_external_invariants(events: list[tuple[ExternalAction, int]]) -> None:
    s, now = INACTIVE, T0
    for action, gap in events:
        now += timedelta(seconds=gap)
        before, s = s, external(s, action, now)
        assert s.state is not AlertState.PENDING  # external alerts never wait
        if s.state is not before.state:  # only a trigger fires, only a resolve resolves
            assert (action, s.state) in {(TRIGGER, AlertState.FIRING), (RESOLVE, AlertState.RESOLVED)}
        if s.acknowledged_at != before.acknowledged_at:  # acknowledged once, forgotten by the next episode
            acked = action is ACK and before.acknowledged_at is None and s.acknowledged_at == now
            assert acked or (action is TRIGGER and before.state is not AlertState.FIRING)
        if s.state is AlertState.FIRING:
            assert s.pending_since == s.fired_at  # an episode starts when it fires
            if before.state is AlertState.FIRING:
                assert s.fired_at == before.fired_at
