"""The latency objective from the rollups: how many of a service's check results answered within the
threshold over a window, and whether a burn alert's window burns its budget.

Resolution: whole minutes. Every window ends at the last whole minute (results of the minute under way
count once it is over). A window of at most two hours starts at a whole minute too (`now` − 5 min,
floored) and is counted from the minute buckets, exactly. A longer one is counted from the hour
rollups back to the start of the hour its start falls in (up to 59 minutes more than asked), and from
minute buckets where the hours are not rolled up yet (behind the rollup watermark), so its recent end
is exact to the minute. Minute buckets come from the minute rollups or, for minutes holding one result,
from the raw results (kept `retention.raw`, 48 h by default: a window of at most two hours is always
within it).

With `maintenance: exclude` a minute or hour bucket that overlaps the service's maintenance counts for
nothing (its results are left out whole: an hour partly in maintenance too).

A threshold on a bound of the rollup histogram (500 ms is one) is counted exactly; one inside a bucket
takes the bucket's share linearly, as the percentiles do.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from functools import cache

from sqlalchemy.orm import Session

from opsbook.checks.histogram import BOUNDS_MS, dense
from opsbook.checks.rollup import HOUR, MINUTE, get_watermark, rollups
from opsbook.slo.budget import Objective
from opsbook.slo.timeline import SECOND, Spans, inside, instant, micros

MINUTES_UP_TO = timedelta(hours=2)
"""Windows up to this long are counted in minutes; longer ones in hours but for their recent end."""


@dataclass(frozen=True)
class LatencyShare(Objective):
    """Results with a latency over a window, and how many of them were within the threshold."""

    total: int
    good: Fraction
    target: Fraction

    @property
    def sli(self) -> Fraction | None:
        return self.good / self.total if self.total else None

    @property
    def bad(self) -> Fraction:
        return self.total - self.good

    def burning(self, share: Fraction) -> bool:
        """A burn alert's condition on this window: some results slow, at least `share` of them."""
        return self.bad > 0 and self.bad >= share * self.total


@cache
def _cut(below_ms: float) -> tuple[int, Fraction]:
    """How the threshold cuts the histogram: its first `k` buckets lie wholly within it, and this share of
    bucket k (pro rata between its bounds; the open-ended last bucket: none)."""
    cut = Fraction(repr(below_ms))
    for index, upper in enumerate(BOUNDS_MS):
        if upper > below_ms:
            low = Fraction(repr(BOUNDS_MS[index - 1])) if index > 0 else Fraction(0)
            return index, max(cut - low, Fraction(0)) / (Fraction(repr(upper)) - low)
    return len(BOUNDS_MS), Fraction(0)


def split(histogram: Sequence[int], below_ms: float) -> tuple[int, int]:
    """(results wholly within `below_ms`, results in the bucket it cuts): integers, to add up cheaply."""
    whole, _ = _cut(below_ms)
    return sum(histogram[:whole]), (histogram[whole] if whole < len(histogram) else 0)


def within(histogram: Sequence[int], below_ms: float) -> Fraction:
    """How many of a histogram's results took at most `below_ms` (a bucket it splits counts pro rata)."""
    fast, cut = split(histogram, below_ms)
    return fast + cut * _cut(below_ms)[1]


def _floor(seconds: int, size: int) -> int:
    return seconds - seconds % size


@dataclass(frozen=True)
class Tallies:
    """A service's results and good results per minute and per hour (bucket start in epoch seconds), read
    once for every window ending at `end` (a whole minute)."""

    end: int
    hour_cut: int
    """Hours before this (a whole hour, up to where the rollups are) come from the hour rollups."""
    below_ms: float
    hours: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    """Bucket → (results, results wholly within the threshold, results in the bucket it cuts)."""
    minutes: dict[int, tuple[int, int, int]] = field(default_factory=dict)

    def start(self, window: timedelta) -> int:
        """Where a window ending at `end` starts: a whole minute, or the whole hour its start falls in if
        it is longer than `MINUTES_UP_TO` and reaches back into the rolled-up hours."""
        start = self.end - int(window.total_seconds())
        if window <= MINUTES_UP_TO or start >= self.hour_cut:
            return _floor(start, MINUTE)
        return _floor(start, HOUR)

    def share(self, window: timedelta, target: Fraction) -> LatencyShare:
        """The window's results against the objective's target."""
        start = self.start(window)
        cut = max(start, self.hour_cut) if window > MINUTES_UP_TO else start
        total = fast = split = 0
        for buckets, lo, hi in ((self.hours, start, cut), (self.minutes, cut, self.end)):
            for bucket, (count, whole, cut_bucket) in buckets.items():
                if lo <= bucket < hi:
                    total, fast, split = total + count, fast + whole, split + cut_bucket
        return LatencyShare(total, fast + split * _cut(self.below_ms)[1], target)


def _read(
    session: Session,
    check_ids: Sequence[str],
    resolution: int,
    span: tuple[int, int],
    below_ms: float,
    into: dict[int, tuple[int, int, int]],
) -> None:
    start, end = span
    if start >= end:
        return
    for check_id in check_ids:
        for row in rollups(session, check_id, resolution, instant(start * SECOND), instant(end * SECOND)):
            hist = dense(row.histogram)
            bucket = micros(row.bucket) // SECOND
            fast, cut = split(hist, below_ms)
            count, whole, part = into.get(bucket, (0, 0, 0))
            into[bucket] = (count + sum(hist), whole + fast, part + cut)


def tallies(
    session: Session,
    check_ids: Sequence[str],
    now: datetime,
    windows: Iterable[timedelta],
    below: timedelta,
    excluded: Spans = (),
) -> Tallies:
    """What the `windows` ending at the last whole minute before `now` need: hours and minutes, one read
    of each per check. A bucket that overlaps `excluded` (maintenance) is left out whole."""
    windows = list(windows)
    end = _floor(micros(now) // SECOND, MINUTE)
    watermark = get_watermark(session)
    if watermark is None:  # nothing rolled up into hours yet: every window from minute buckets
        cut = min([end, *(_floor(end - int(w.total_seconds()), MINUTE) for w in windows)])
    else:
        cut = _floor(min(end, micros(watermark) // SECOND), HOUR)
    below_ms = below.total_seconds() * 1000
    found = Tallies(end, cut, below_ms)
    starts = [found.start(w) for w in windows]
    _read(session, check_ids, HOUR, (min([cut, *starts]), cut), below_ms, found.hours)
    first_minute = min([cut, *(s for w, s in zip(windows, starts, strict=True) if w <= MINUTES_UP_TO)])
    _read(session, check_ids, MINUTE, (first_minute, end), below_ms, found.minutes)
    for buckets, size in ((found.hours, HOUR), (found.minutes, MINUTE)):
        for bucket in [b for b in buckets if inside(excluded, b * SECOND, (b + size) * SECOND)]:
            del buckets[bucket]
    return found
