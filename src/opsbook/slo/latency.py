"""The latency objective from the rollups: how many of a service's check results answered within the
threshold, over a window. Per-hour rollups cover the objective's window (its first hour whole), per-minute
rollups the last hour. A threshold on a bound of the rollup histogram (500 ms is one) is counted
exactly; one inside a bucket takes the bucket's share linearly, as the percentiles do."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction

from sqlalchemy.orm import Session

from opsbook.checks.histogram import BOUNDS_MS, dense
from opsbook.checks.rollup import HOUR, MINUTE, floor, rollups
from opsbook.slo.budget import Objective


@dataclass(frozen=True)
class LatencyShare(Objective):
    """Results with a latency over a window, and how many of them were within the threshold."""

    total: int
    good: Fraction
    target: Fraction

    @property
    def sli(self) -> Fraction | None:
        return self.good / self.total if self.total else None


def within(histogram: Sequence[int], below_ms: float) -> Fraction:
    """How many of a histogram's results took at most `below_ms` (a bucket it splits counts pro rata)."""
    good = Fraction(0)
    for index, count in enumerate(histogram):
        if not count:
            continue
        lower = BOUNDS_MS[index - 1] if index > 0 else 0.0
        upper = BOUNDS_MS[index] if index < len(BOUNDS_MS) else None
        if upper is not None and upper <= below_ms:
            good += count
        elif lower < below_ms and upper is not None:
            low, high, cut = Fraction(repr(lower)), Fraction(repr(upper)), Fraction(repr(below_ms))
            good += count * (cut - low) / (high - low)
    return good


def _sum(
    session: Session,
    check_ids: Sequence[str],
    resolution: int,
    start: datetime,
    end: datetime,
    below_ms: float,
) -> tuple[int, Fraction]:
    total, good = 0, Fraction(0)
    for check_id in check_ids:
        for row in rollups(session, check_id, resolution, start, end):
            hist = dense(row.histogram)
            total += sum(hist)
            good += within(hist, below_ms)
    return total, good


def latency_share(
    session: Session,
    check_ids: Sequence[str],
    start: datetime,
    end: datetime,
    below: timedelta,
    target: Fraction,
) -> LatencyShare:
    """Over [start, end): hours from the per-hour rollups, a window under two hours from per-minute ones."""
    below_ms = below.total_seconds() * 1000
    if not check_ids:
        return LatencyShare(0, Fraction(0), target)
    if end - start <= timedelta(hours=2):
        total, good = _sum(session, check_ids, MINUTE, floor(start, MINUTE), end, below_ms)
    else:
        total, good = _sum(session, check_ids, HOUR, floor(start, HOUR), end, below_ms)
    return LatencyShare(total, good, target)
