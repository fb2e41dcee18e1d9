"""Trends of a measured value and when it reaches a level: a robust (Theil–Sen) linear fit. Pure.

`fit(points, now, history, min_history)` takes (time, value) points, oldest first (the hourly means of a
value), keeps those of the last `history`, and fits a line whose slope is the median of the slopes of
every pair of points and whose intercept is the median of the residual offsets (Theil–Sen): one
outlier in three leaves it where the data lie, unlike least squares. With fewer than `min_history` of
history or fewer than MIN_POINTS points the answer says so instead of guessing.

The fit's quality is reported two ways: `r2`, the share of the variance the line explains (1 for a
perfect line, about 0 for noise around a flat line), and `spread`, the median absolute residual in the
value's unit. `Trend.reaches(level)` is when the fitted line crosses `level` going up: now if the
fitted value is there already, None if the trend is flat or falling (`slope_per_day` at most
`FLAT_PER_DAY` of the value's unit per day).

Theil–Sen is hand-written here (a median of pairwise slopes, O(n²): 336 hourly points of 14 days are
56,280 slopes, about 7 ms, cached until the points change): numpy and scipy are not dependencies of
opsbook, and a 40 MB library for a median would cost every command's start-up time.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

DAY = 86400.0
MIN_POINTS = 6
FLAT_PER_DAY = 1e-6
MAX_POINTS = 1000
"""More points than this are thinned evenly before fitting (pairs grow with the square)."""


@dataclass(frozen=True)
class Trend:
    """A fitted line: value(t) = level + slope_per_day x days since `at`."""

    at: datetime  # the instant the line is anchored at (the evaluation's `now`)
    level: float  # the fitted value at `at`
    slope_per_day: float
    r2: float
    spread: float
    points: int
    span: timedelta  # from the oldest to the newest point used

    @property
    def rising(self) -> bool:
        return self.slope_per_day > FLAT_PER_DAY

    def value_at(self, t: datetime) -> float:
        return self.level + self.slope_per_day * (t - self.at).total_seconds() / DAY

    def reaches(self, level: float) -> datetime | None:
        """When the line reaches `level` (now if it is there already); None if it never will (not rising)."""
        if self.level >= level:
            return self.at
        if not self.rising:
            return None
        days = (level - self.level) / self.slope_per_day
        if days > 36500:  # a century away is never, and beyond what datetime can hold safely
            return None
        return self.at + timedelta(days=days)

    def days_until(self, level: float) -> float | None:
        when = self.reaches(level)
        return None if when is None else (when - self.at).total_seconds() / DAY


@dataclass(frozen=True)
class NoTrend:
    """Why there is no trend: too little history, or no points at all."""

    reason: str


def fit(
    points: Sequence[tuple[datetime, float]],
    now: datetime,
    history: timedelta,
    min_history: timedelta,
) -> Trend | NoTrend:
    """The Theil–Sen trend of the points of the last `history` before `now` (inclusive), or why not."""
    start = now - history
    kept = [(t, v) for t, v in points if start <= t <= now]
    if not kept:
        return NoTrend("no measurements in the history window yet")
    kept.sort(key=lambda p: p[0])
    span = kept[-1][0] - kept[0][0]
    if span < min_history or len(kept) < MIN_POINTS:
        return NoTrend(
            f"too little history: {_days(span)} and {len(kept)} points "
            f"(a forecast needs {_days(min_history)} and {MIN_POINTS} points)"
        )
    if len(kept) > MAX_POINTS:
        step = len(kept) / MAX_POINTS
        kept = [kept[int(i * step)] for i in range(MAX_POINTS)]
    slope, anchored, r2, spread = _line(tuple(kept))
    level = anchored + slope * (now - kept[-1][0]).total_seconds() / DAY
    return Trend(at=now, level=level, slope_per_day=slope, r2=r2, spread=spread, points=len(kept), span=span)


@lru_cache(maxsize=256)
def _line(kept: tuple[tuple[datetime, float], ...]) -> tuple[float, float, float, float]:
    """Slope per day, value at the newest point, R², median absolute residual. Cached: a rule is
    evaluated on every result, the hourly points change once an hour."""
    anchor = kept[-1][0]
    xs = [(t - anchor).total_seconds() / DAY for t, _ in kept]
    ys = [v for _, v in kept]
    slope = theil_sen_slope(xs, ys)
    level = statistics.median(y - slope * x for x, y in zip(xs, ys, strict=True))
    residuals = [y - (level + slope * x) for x, y in zip(xs, ys, strict=True)]
    return slope, level, _r2(ys, residuals), statistics.median(abs(r) for r in residuals)


def theil_sen_slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """The median of the slopes of every pair of points with distinct x."""
    slopes = [
        (ys[j] - ys[i]) / (xs[j] - xs[i])
        for i in range(len(xs))
        for j in range(i + 1, len(xs))
        if xs[j] != xs[i]
    ]
    return statistics.median(slopes) if slopes else 0.0


def _r2(ys: Sequence[float], residuals: Sequence[float]) -> float:
    mean = statistics.fmean(ys)
    total = sum((y - mean) ** 2 for y in ys)
    if total == 0:
        return 1.0 if all(r == 0 for r in residuals) else 0.0
    return max(0.0, 1.0 - sum(r * r for r in residuals) / total)


def _days(span: timedelta) -> str:
    days = span.total_seconds() / DAY
    return f"{days:.1f} days" if days < 10 else f"{days:.0f} days"
