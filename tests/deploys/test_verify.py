"""Judging a verification window against its baseline (pure; hypothesis where it fits)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from opsbook.deploys.verify import Limits, Sample, figures, healthy_round, judge, percentile

T0 = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
LIMITS = Limits(max_error_rate_increase=0.02, max_p95_ratio=1.5, min_p95_increase_ms=50, min_samples=5)


def samples(check: str, results: list[tuple[bool, float]]) -> list[Sample]:
    return [Sample(check, T0 + timedelta(seconds=10 * i), ok, ms) for i, (ok, ms) in enumerate(results)]


def test_the_bad_deploy_regresses_on_error_rate_and_p95() -> None:
    baseline = {"api/health": samples("api/health", [(True, 20.0)] * 99 + [(False, 20.0)])}  # 1 % errors
    window = {"api/health": samples("api/health", [(True, 45.0)] * 3 + [(False, 45.0)] + [(True, 45.0)])}
    verdict = judge(baseline, window, LIMITS)
    assert verdict.regression and verdict.decided
    assert verdict.reasons == [
        "api/health: error rate 20.0 % against a baseline of 1.0 % (allowed 3.0 %)",
    ]  # p95 45 ms: above 1.5 x 20 ms, but within 20 + 50 ms: not a regression
    slower = {"api/health": samples("api/health", [(True, 80.0)] * 5)}
    assert judge(baseline, slower, LIMITS).reasons == [
        "api/health: p95 80 ms against a baseline of 20 ms (allowed 70 ms)"
    ]
    figures_out = verdict.as_dict()["checks"][0]
    assert figures_out["baseline"] == {"count": 100, "failures": 1, "error_rate": 0.01, "p95_ms": 20.0}
    assert figures_out["allowed_error_rate"] == 0.03 and figures_out["allowed_p95_ms"] == 70.0


def test_no_verdict_on_too_few_results_but_a_fired_rule_is_one() -> None:
    baseline = {"api/health": samples("api/health", [(True, 20.0)] * 10)}
    few = {"api/health": samples("api/health", [(False, 20.0)] * 4)}
    verdict = judge(baseline, few, LIMITS)
    assert not verdict.regression and not verdict.decided
    fired = judge(baseline, few, LIMITS, ["api-p95"])
    assert fired.regression and fired.reasons == ["rule api-p95 fired"]


def test_without_a_baseline_errors_are_held_against_zero_and_latency_is_free() -> None:
    window = {"api/new": samples("api/new", [(True, 900.0)] * 5)}
    assert not judge({}, window, LIMITS).regression
    window["api/new"].append(Sample("api/new", T0, False, None))
    assert (
        judge({}, window, LIMITS)
        .reasons[0]
        .startswith("api/new: error rate 16.7 % against a baseline of 0.0 %")
    )


def test_a_healthy_round_is_every_result_up_within_the_latency_limit() -> None:
    baseline = {"api/health": samples("api/health", [(True, 20.0)] * 10)}
    assert healthy_round(samples("api/health", [(True, 60.0)]), baseline, LIMITS)
    assert not healthy_round(samples("api/health", [(True, 71.0)]), baseline, LIMITS)
    assert not healthy_round(samples("api/health", [(False, 10.0)]), baseline, LIMITS)
    assert not healthy_round([], baseline, LIMITS)


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 0.95) is None
    assert percentile([5.0], 0.95) == 5.0
    assert percentile([float(i) for i in range(1, 101)], 0.95) == 95.0
    assert percentile([float(i) for i in range(1, 21)], 0.95) == 19.0


results = st.lists(
    st.tuples(st.booleans(), st.floats(min_value=0.1, max_value=10_000)), min_size=1, max_size=200
)


@given(results)
def test_a_window_like_its_baseline_never_regresses(found: list[tuple[bool, float]]) -> None:
    same = {"api/health": samples("api/health", found)}
    assert not judge(same, same, LIMITS).regression


@given(results, st.integers(min_value=1, max_value=50))
def test_more_failures_than_allowed_always_regress(found: list[tuple[bool, float]], extra: int) -> None:
    baseline = {"api/health": samples("api/health", found)}
    base = figures(baseline["api/health"])
    window_results = [(True, 1.0)] * 5 + [(False, 1.0)] * extra
    window = figures(samples("api/health", window_results))
    verdict = judge(baseline, {"api/health": samples("api/health", window_results)}, LIMITS)
    assert verdict.regression == (window.error_rate > base.error_rate + LIMITS.max_error_rate_increase)
