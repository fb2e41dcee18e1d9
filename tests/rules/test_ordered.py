"""Evaluating a kept window (rules.evaluate.Ordered: sorted, none after now) gives exactly what evaluating
the same samples in any order does."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from opsbook.rules.evaluate import Ordered, Sample, evaluate
from opsbook.rules.expr import parse

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
RULES = [parse(text) for text in (
    "failures >= 3", "p95(latency_ms) > 50 for 2m", "avg(latency_ms over 1m) > 20", "latency_ms > 40",
    "error_rate > 10% over 2m", "heartbeat missing", "max(cpu_pct over 3m) > 90",
    "count(latency_ms) > 5 over 90s",
)]

samples_strategy = st.lists(
    st.tuples(
        st.integers(0, 300),  # seconds before now
        st.sampled_from(["up", "degraded", "down"]),
        st.one_of(st.none(), st.floats(0, 100)),
        st.one_of(st.none(), st.floats(0, 100)),
    ),
    max_size=60,
    unique_by=lambda t: t[0],  # distinct times: any order of them sorts to one sequence
)


@given(samples_strategy, st.randoms())
@settings(max_examples=300, deadline=None)
def test_an_ordered_window_evaluates_as_the_same_samples_in_any_order(
    raw: list[tuple[int, str, float | None, float | None]], rnd: random.Random
) -> None:
    samples = [
        Sample(NOW - timedelta(seconds=back), status, latency, {} if cpu is None else {"cpu_pct": cpu},
               f"m{i}")
        for i, (back, status, latency, cpu) in enumerate(raw)
    ]
    ordered = Ordered(sorted(samples, key=lambda s: s.ts))
    shuffled = list(samples)
    rnd.shuffle(shuffled)
    for expr in RULES:
        kept = evaluate(expr, ordered, NOW)
        assert kept == evaluate(expr, list(ordered), NOW) == evaluate(expr, shuffled, NOW)
