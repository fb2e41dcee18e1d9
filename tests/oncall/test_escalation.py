"""Escalation stepping: which pages are due, when, and what an acknowledgement stops."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from opsbook.oncall.config import EscalationPolicy
from opsbook.oncall.escalation import due_steps, escalation_state, next_step, restore, snapshot

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
M = timedelta(minutes=1)


def policy(**extra: object) -> EscalationPolicy:
    return EscalationPolicy.model_validate({
        "name": "default",
        "levels": [
            {"targets": ["schedule:primary"], "after": "10m"},
            {"targets": ["user:lead"], "after": "20m"},
            {"targets": ["user:cto"]},
        ],
        **extra,
    })


def pages(steps: list) -> list[tuple[timedelta, tuple[str, ...]]]:
    return [(s.due - T0, s.targets) for s in steps]


def test_unacknowledged_pages_on_call_then_lead_at_10_then_cto_at_30() -> None:
    p = policy()
    assert pages(due_steps(p, T0, T0)) == [(timedelta(0), ("schedule:primary",))]
    assert pages(due_steps(p, T0, T0 + 9 * M)) == [(timedelta(0), ("schedule:primary",))]
    upcoming = next_step(p, T0, T0 + 9 * M)
    assert upcoming is not None and upcoming.due == T0 + 10 * M
    assert pages(due_steps(p, T0, T0 + 29 * M)) == [
        (timedelta(0), ("schedule:primary",)), (10 * M, ("user:lead",)),
    ]
    full = escalation_state(p, T0, T0 + 3 * 60 * M)
    assert pages(list(full.due)) == [
        (timedelta(0), ("schedule:primary",)), (10 * M, ("user:lead",)), (30 * M, ("user:cto",)),
    ]
    assert full.next is None and full.exhausted and full.current_level == 2
    assert [s.key for s in full.due] == ["r0-l0", "r0-l1", "r0-l2"]


def test_acknowledged_at_12_minutes_the_cto_is_never_paged() -> None:
    p = policy()
    acked = T0 + 12 * M
    state = escalation_state(p, T0, T0 + 24 * 60 * M, acked_at=acked)
    assert pages(list(state.due)) == [(timedelta(0), ("schedule:primary",)), (10 * M, ("user:lead",))]
    assert state.next is None and not state.exhausted


def test_acknowledgement_exactly_at_a_step_wins_over_it() -> None:
    state = escalation_state(policy(), T0, T0 + 60 * M, acked_at=T0 + 10 * M)
    assert [s.key for s in state.due] == ["r0-l0"]


def test_repeat_runs_the_levels_again() -> None:
    p = policy(repeat=1, levels=[
        {"targets": ["schedule:primary"], "after": "10m"},
        {"targets": ["user:lead"], "after": "20m"},
        {"targets": ["user:cto"], "after": "15m"},
    ])
    state = escalation_state(p, T0, T0 + 10 * 60 * M)
    assert [(s.key, s.due - T0) for s in state.due] == [
        ("r0-l0", timedelta(0)), ("r0-l1", 10 * M), ("r0-l2", 30 * M),
        ("r1-l0", 45 * M), ("r1-l1", 55 * M), ("r1-l2", 75 * M),
    ]
    assert state.exhausted


def test_renotify_while_acknowledged_but_unresolved() -> None:
    p = policy(renotify_after="1h")
    acked = T0 + 5 * M
    state = escalation_state(p, T0, T0 + 185 * M, acked_at=acked, acked_by="ana")
    assert [(s.key, s.due - T0, s.targets) for s in state.due] == [
        ("r0-l0", timedelta(0), ("schedule:primary",)),
        ("renotify-1", 65 * M, ("user:ana",)),
        ("renotify-2", 125 * M, ("user:ana",)),
        ("renotify-3", 185 * M, ("user:ana",)),
    ]
    assert state.next is not None and state.next.key == "renotify-4"
    resolved = escalation_state(p, T0, T0 + 600 * M, acked_at=acked, resolved_at=T0 + 130 * M)
    assert [s.key for s in resolved.due] == ["r0-l0", "renotify-1", "renotify-2"]
    assert resolved.due[-1].targets == ("schedule:primary",)  # acknowledger unknown: the first level
    assert resolved.next is None


def test_resolved_without_acknowledgement_stops_the_levels() -> None:
    state = escalation_state(policy(), T0, T0 + 60 * M, resolved_at=T0 + 20 * M)
    assert [s.key for s in state.due] == ["r0-l0", "r0-l1"]
    assert state.next is None and not state.exhausted


def test_snapshot_survives_a_config_edit() -> None:
    stored = snapshot(policy(renotify_after="30m"))
    assert stored["levels"][1] == {"targets": ["user:lead"], "after": "20m"}
    again = restore(stored)
    assert due_steps(again, T0, T0 + 40 * M) == due_steps(policy(renotify_after="30m"), T0, T0 + 40 * M)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 120), st.one_of(st.none(), st.integers(0, 120)), st.integers(0, 3))
def test_due_steps_only_grow_with_time_and_next_is_the_first_not_due(now_min: int, ack_min: int | None,
                                                                      repeat: int) -> None:
    p = policy(repeat=repeat, renotify_after="7m", levels=[
        {"targets": ["user:a"], "after": "5m"}, {"targets": ["user:b"], "after": "11m"},
    ])
    ack = None if ack_min is None else T0 + ack_min * M
    now = T0 + now_min * M
    earlier = due_steps(p, T0, now - M, acked_at=ack)
    state = escalation_state(p, T0, now, acked_at=ack)
    later = escalation_state(p, T0, now + 200 * M, acked_at=ack)
    assert list(state.due[: len(earlier)]) == earlier
    keys = [s.key for s in later.due]
    assert len(keys) == len(set(keys))
    if state.next is not None:
        assert state.next.due > now
        assert state.next in later.due
        assert later.due.index(state.next) == len(state.due)
    for step in state.due:
        assert step.due <= now
        if ack is not None and step.kind == "level":
            assert step.due < ack
