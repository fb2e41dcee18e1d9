"""Pure rule evaluation over plain samples, including hypothesis checks of the percentile."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opsbook.rules.evaluate import Sample, aggregate, evaluate, percentile
from opsbook.rules.expr import parse

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def at(seconds: float, status: str = "up", latency: float | None = 100.0, **values: float) -> Sample:
    return Sample(T0 + timedelta(seconds=seconds), status, latency, values, f"{status} at {seconds}")


def test_failures_counts_newest_run_only() -> None:
    e = parse("failures >= 3")
    samples = [at(0, "down"), at(30), at(60, "down"), at(90, "down")]
    ev = evaluate(e, samples, T0 + timedelta(seconds=90))
    assert (ev.active, ev.value, ev.threshold) == (False, 2.0, 3.0)
    ev = evaluate(e, [*samples, at(120, "down")], T0 + timedelta(seconds=120))
    assert (ev.active, ev.value) == (True, 3.0)
    assert "3 consecutive failures" in ev.message and "down at 120" in ev.message


def test_degraded_is_not_a_failure() -> None:
    samples = [at(0, "down"), at(30, "degraded"), at(60, "down")]
    assert evaluate(parse("failures >= 2"), samples, T0 + timedelta(minutes=1)).value == 1.0


def test_samples_after_now_are_ignored_and_order_does_not_matter() -> None:
    samples = [at(60, "down"), at(0, "down"), at(30, "down"), at(90, "up")]
    assert evaluate(parse("failures >= 3"), samples, T0 + timedelta(seconds=60)).active


def test_window_is_half_open() -> None:
    e = parse("max(latency_ms) > 500 for 1m")
    now = T0 + timedelta(minutes=1)
    # exactly one window old: outside; the newest is inside
    ev = evaluate(e, [at(0, latency=900), at(30, latency=100), at(60, latency=200)], now)
    assert (ev.active, ev.value) == (False, 200.0)
    ev = evaluate(e, [at(0.001, latency=900), at(60, latency=200)], now)
    assert (ev.active, ev.value) == (True, 900.0)


def test_percentile_over_window() -> None:
    e = parse("p95(latency_ms) > 500 for 5m")
    samples = [at(30 * i, latency=100.0) for i in range(10)]
    samples += [at(300, latency=600.0), at(330, latency=600.0)]
    ev = evaluate(e, samples, T0 + timedelta(seconds=330))
    # window (30s, 330s]: 8 x 100 then 2 x 600 → rank 0.95 x 9 = 8.55 → 600
    assert ev.active and ev.value == pytest.approx(600.0)
    ev = evaluate(e, samples[:11], T0 + timedelta(seconds=300))
    # window (0, 300]: 9 x 100 and 1 x 600 → 100 + 0.55 x 500
    assert not ev.active and ev.value == pytest.approx(375.0)


def test_missing_latency_values_are_skipped_and_empty_is_unknown() -> None:
    e = parse("avg(latency_ms) > 100 over 1m")
    ev = evaluate(e, [at(10, "down", None), at(20, latency=300)], T0 + timedelta(seconds=30))
    assert ev.value == 300.0 and ev.active
    ev = evaluate(e, [at(10, "down", None)], T0 + timedelta(seconds=30))
    assert (ev.active, ev.value) == (False, None)
    assert "no value" in ev.message


def test_error_rate() -> None:
    e = parse("error_rate > 10% over 5m for 5m")
    samples = [at(30 * i, "down" if i % 4 == 0 else "up") for i in range(1, 11)]
    ev = evaluate(e, samples, T0 + timedelta(minutes=5))
    assert ev.value == pytest.approx(20.0) and ev.active
    assert "2 of 10 results down" in ev.message
    assert not evaluate(e, [], T0).active


def test_last_value_thresholds() -> None:
    samples = [at(0, cpu_pct=95.0), at(30, cpu_pct=70.0), at(60, "down", None)]
    ev = evaluate(parse("cpu_pct > 80 for 5m"), samples, T0 + timedelta(minutes=1))
    assert (ev.active, ev.value) == (False, 70.0)  # newest value present; the down result has none
    ev = evaluate(parse("days_left < 14"), [at(0, days_left=9)], T0)
    assert ev.active and ev.value == 9.0 and "days_left = 9" in ev.message
    assert not evaluate(parse("days_left < 14"), [], T0).active


def test_heartbeat_missing() -> None:
    e = parse("heartbeat missing")
    assert not evaluate(e, [], T0).active
    assert evaluate(e, [at(0, "up"), at(60, "down")], T0 + timedelta(minutes=1)).active
    assert not evaluate(e, [at(0, "down"), at(60, "up")], T0 + timedelta(minutes=1)).active


finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False)


@given(st.lists(finite, min_size=2, max_size=60), st.sampled_from([1, 5, 25, 50, 75, 90, 95, 99]))
def test_percentile_matches_the_standard_library(values: list[float], q: int) -> None:
    expected = statistics.quantiles(values, n=100, method="inclusive")[q - 1]
    assert percentile(values, q / 100) == pytest.approx(expected, rel=1e-9, abs=1e-6)


@given(st.lists(finite, min_size=1, max_size=60), st.floats(0, 1), st.floats(0, 1))
def test_percentile_is_bounded_and_monotone(values: list[float], q1: float, q2: float) -> None:
    lo, hi = sorted((q1, q2))
    a, b = percentile(values, lo), percentile(values, hi)
    assert min(values) - 1e-6 <= a <= b + 1e-6 <= max(values) + 2e-6
    assert percentile(values, 0) == min(values) and percentile(values, 1) == max(values)


@given(st.lists(finite, min_size=1, max_size=40))
def test_aggregates_agree_with_reference(values: list[float]) -> None:
    assert aggregate("min", values) == min(values)
    assert aggregate("max", values) == max(values)
    assert aggregate("last", values) == values[-1]
    assert aggregate("count", values) == len(values)
    assert aggregate("avg", values) == pytest.approx(statistics.fmean(values), rel=1e-9, abs=1e-6)
    assert aggregate("p50", values) == pytest.approx(statistics.median(values), rel=1e-9, abs=1e-6)
