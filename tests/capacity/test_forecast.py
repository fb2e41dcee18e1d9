"""Forecasts on constructed histories with a known slope and noise (opsbook.capacity.forecast and the
`days_until(...)` rule condition)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opsbook.capacity.forecast import NoTrend, Trend, fit
from opsbook.rules.evaluate import evaluate
from opsbook.rules.expr import parse
from opsbook.rules.forecast import History

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
DAYS14 = timedelta(days=14)
DAYS3 = timedelta(days=3)


def series(start: float, per_day: float, noise: float, days: float = 14, seed: int = 1,
           outliers: int = 0) -> list[tuple[datetime, float]]:
    """Hourly points ending at NOW: start + per_day x day + uniform noise, some wild outliers."""
    rng = random.Random(seed)
    hours = int(days * 24)
    points = []
    for h in range(hours + 1):
        t = NOW - timedelta(hours=hours - h)
        points.append((t, start + per_day * h / 24 + rng.uniform(-noise, noise)))
    for i in rng.sample(range(len(points)), outliers):
        points[i] = (points[i][0], points[i][1] + rng.choice([-30, 30]))
    return points


def test_a_noisy_rising_series_gives_the_date_within_half_a_day() -> None:
    # 50 % fourteen days ago, +2 %/day, ±1.5 % noise: 78 % now, 90 % in six days
    points = series(50.0, 2.0, 1.5)
    trend = fit(points, NOW, DAYS14, DAYS3)
    assert isinstance(trend, Trend)
    assert trend.slope_per_day == pytest.approx(2.0, abs=0.05)
    assert trend.r2 > 0.95
    truth = NOW + timedelta(days=(90 - 78) / 2)  # the line is at 78 now
    when = trend.reaches(90)
    assert when is not None and abs(when - truth) < timedelta(hours=12)


def test_outliers_do_not_move_the_robust_fit() -> None:
    points = series(50.0, 2.0, 0.5, outliers=40)  # 40 of 337 points off by ±30
    trend = fit(points, NOW, DAYS14, DAYS3)
    assert isinstance(trend, Trend)
    assert trend.slope_per_day == pytest.approx(2.0, abs=0.1)
    when = trend.reaches(90)
    assert when is not None and abs(when - (NOW + timedelta(days=6))) < timedelta(hours=12)


@pytest.mark.parametrize("per_day", [0.0, -1.0])
def test_a_flat_or_falling_series_has_no_date(per_day: float) -> None:
    trend = fit(series(60.0, per_day, 0.0), NOW, DAYS14, DAYS3)
    assert isinstance(trend, Trend) and not trend.rising
    assert trend.reaches(90) is None and trend.days_until(90) is None


def test_noise_around_a_flat_line_is_not_a_trend_of_any_consequence() -> None:
    trend = fit(series(60.0, 0.0, 2.0), NOW, DAYS14, DAYS3)
    assert isinstance(trend, Trend)
    assert abs(trend.slope_per_day) < 0.1 and trend.r2 < 0.2


def test_too_little_history_says_so() -> None:
    found = fit(series(60.0, 2.0, 0.0, days=1.5), NOW, DAYS14, DAYS3)
    assert isinstance(found, NoTrend)
    assert "too little history: 1.5 days" in found.reason and "3.0 days" in found.reason
    assert isinstance(fit([], NOW, DAYS14, DAYS3), NoTrend)


def test_already_past_the_level_is_now() -> None:
    trend = fit(series(80.0, 1.0, 0.0), NOW, DAYS14, DAYS3)
    assert isinstance(trend, Trend) and trend.reaches(90) == NOW and trend.days_until(90) == 0


def test_only_the_configured_history_is_fitted() -> None:
    old_fall = series(90.0, -3.0, 0.0, days=30)[: 16 * 24]  # a fall 30..14 days ago, then a rise
    recent = series(50.0, 2.0, 0.0)
    trend = fit(old_fall + recent, NOW, DAYS14, DAYS3)
    assert isinstance(trend, Trend) and trend.slope_per_day == pytest.approx(2.0, abs=0.01)


@settings(max_examples=40, deadline=None)
@given(slope=st.floats(0.2, 5.0), start=st.floats(0, 50), noise=st.floats(0, 1.0), seed=st.integers(0, 99))
def test_the_date_is_within_tolerance_for_any_slope_and_noise(
    slope: float, start: float, noise: float, seed: int
) -> None:
    """Tolerance: the date of a level is off by at most (noise / slope) days plus an hour."""
    trend = fit(series(start, slope, noise, seed=seed), NOW, DAYS14, DAYS3)
    assert isinstance(trend, Trend)
    level = start + slope * 14 + 10 * slope  # ten days ahead on the true line
    when = trend.reaches(level)
    assert when is not None
    tolerance = timedelta(days=noise / slope) + timedelta(hours=1)
    assert abs(when - (NOW + timedelta(days=10))) <= tolerance


def test_the_rule_condition_fires_with_the_date_and_the_plan() -> None:
    expr = parse("days_until(disk_pct:/data >= 90) < 14")
    history = History(series(44.0, 2.0, 0.3), label="db /data", unit="%",
                      actions={80: "increase volume or delete old data"}, timezone="Europe/Berlin")
    ev = evaluate(expr, [], NOW, history)
    assert ev.active and ev.value == pytest.approx(9, abs=0.5)  # at 72 % now, 90 % in 9 days
    assert ev.message.startswith("db /data reaches 90% around 2026-03-13 CET, in 9 days (trend +2.0%/day")
    assert ev.message.endswith("; plan: increase volume or delete old data")


def test_the_rule_condition_is_false_without_a_date() -> None:
    expr = parse("days_until(disk_pct:/data >= 90) < 14")
    flat = evaluate(expr, [], NOW, History(series(60.0, -0.5, 0.0), label="db /data", unit="%"))
    assert not flat.active and flat.value is None and "is not rising" in flat.message
    short = evaluate(expr, [], NOW, History(series(60.0, 2.0, 0.0, days=1)))
    assert not short.active and "too little history" in short.message
    assert not evaluate(expr, [], NOW, None).active
