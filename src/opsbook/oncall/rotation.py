"""Schedule arithmetic: turns of each layer, restriction windows, overrides, merged into shifts.

Pure functions over the config models and plain data; every instant given or returned is an aware
UTC datetime. Handoffs are wall-clock times in the schedule's zone: turn k of a layer starts at the
local time `anchor + k * turn`, so a weekly Monday 09:00 handoff stays at 09:00 local across daylight
saving changes. A local time that does not exist (skipped by a spring-forward change) starts at the
change itself; one that happens twice (fall back) starts at its first occurrence.

Stacking: later layers sit on top of earlier ones wherever they have someone; restrictions limit a
layer to their windows; overrides win over every layer (the later override wins over an earlier one).
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from opsbook.oncall.config import Layer, Restriction, Schedule

_DST_MARGIN = timedelta(hours=3)  # more than any zone's offset change


@dataclass(frozen=True)
class Override:
    """Someone on call for a fixed time, over every layer ("ana covers ben from Fri 18:00 to Mon 09:00")."""

    user: str
    start: datetime
    end: datetime
    id: int | None = None
    covers: str | None = None


@dataclass(frozen=True)
class Shift:
    """A stretch of time one user is on call; `sources`: where it came from ("layer:weekly", "override:3")."""

    user: str
    start: datetime
    end: datetime
    sources: tuple[str, ...] = ()

    @property
    def is_override(self) -> bool:
        return any(s.startswith("override:") for s in self.sources)

    def contains(self, t: datetime) -> bool:
        return self.start <= t < self.end


@lru_cache(maxsize=64)
def zone_of(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_to_utc(naive: datetime, zone: ZoneInfo) -> datetime:
    """The first instant at which the wall clock of `zone` shows `naive` or later."""
    utc = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if utc.astimezone(zone).replace(tzinfo=None) == naive:
        return utc  # exists (the first of two occurrences when ambiguous)
    # `naive` falls in a gap: find the change itself, to the second, between the two readings
    lo, hi = sorted(naive.replace(tzinfo=zone, fold=f).astimezone(UTC) for f in (0, 1))
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        mid = mid.replace(microsecond=0)
        if mid.astimezone(zone).replace(tzinfo=None) >= naive:
            hi = mid
        else:
            lo = mid
    return hi


def utc_to_local(t: datetime, zone: ZoneInfo) -> datetime:
    """The wall-clock reading (naive) of `zone` at instant `t`."""
    return t.astimezone(zone).replace(tzinfo=None)


def anchor(layer: Layer) -> datetime:
    """The naive local time of the layer's first handoff: the handoff on or after its start date."""
    day = layer.start
    if layer.handoff.weekday is not None:
        day += timedelta(days=(layer.handoff.weekday - day.weekday()) % 7)
    return datetime.combine(day, layer.handoff.at)


def handoff_at(layer: Layer, zone: ZoneInfo, k: int) -> datetime:
    """When turn number `k` (0-based) of the layer begins."""
    return local_to_utc(anchor(layer) + k * layer.turn, zone)


def layer_end(layer: Layer, zone: ZoneInfo) -> datetime | None:
    return None if layer.end is None else local_to_utc(datetime.combine(layer.end, time(0)), zone)


def layer_turns(layer: Layer, zone: ZoneInfo, start: datetime, end: datetime) -> list[Shift]:
    """The layer's turns overlapping [start, end), clipped to it, ignoring restrictions."""
    source = (f"layer:{layer.name}",)
    first = anchor(layer)
    k = max(0, (utc_to_local(start, zone) - _DST_MARGIN - first) // layer.turn)
    while handoff_at(layer, zone, k + 1) <= start:
        k += 1
    stop = layer_end(layer, zone)
    limit = end if stop is None else min(end, stop)
    out: list[Shift] = []
    begin = handoff_at(layer, zone, k)
    while begin < limit:
        finish = handoff_at(layer, zone, k + 1)
        s, e = max(begin, start), min(finish, limit)
        if e > s:
            out.append(Shift(layer.users[k % len(layer.users)], s, e, source))
        k, begin = k + 1, finish
    return out


def restriction_windows(
    restrictions: Sequence[Restriction], zone: ZoneInfo, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The union of the restriction windows overlapping [start, end), clipped, sorted and disjoint."""
    first: date = utc_to_local(start, zone).date() - timedelta(days=1)
    last: date = utc_to_local(end, zone).date()
    raw: list[tuple[datetime, datetime]] = []
    day = first
    while day <= last:
        for r in restrictions:
            if day.weekday() in r.days:
                opens = datetime.combine(day, r.start)
                ws, we = local_to_utc(opens, zone), local_to_utc(opens + r.length, zone)
                s, e = max(ws, start), min(we, end)
                if e > s:
                    raw.append((s, e))
        day += timedelta(days=1)
    return _union(raw)


def _union(intervals: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    out: list[tuple[datetime, datetime]] = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def layer_shifts(layer: Layer, zone: ZoneInfo, start: datetime, end: datetime) -> list[Shift]:
    """The layer's turns within [start, end), cut to its restriction windows if it has any."""
    turns = layer_turns(layer, zone, start, end)
    if not layer.restrictions:
        return turns
    windows = restriction_windows(layer.restrictions, zone, start, end)
    out: list[Shift] = []
    i = 0
    for turn in turns:
        while i < len(windows) and windows[i][1] <= turn.start:
            i += 1
        j = i
        while j < len(windows) and windows[j][0] < turn.end:
            s, e = max(turn.start, windows[j][0]), min(turn.end, windows[j][1])
            if e > s:
                out.append(Shift(turn.user, s, e, turn.sources))
            j += 1
    return out


def _covering(pieces: list[Shift], starts: list[datetime], t: datetime) -> Shift | None:
    i = bisect.bisect_right(starts, t) - 1
    if i >= 0 and pieces[i].end > t:
        return pieces[i]
    return None


def shifts(
    schedule: Schedule, start: datetime, end: datetime, overrides: Sequence[Override] = ()
) -> list[Shift]:
    """Who is on call over [start, end): the merged, sorted, disjoint shifts (gaps are left out).

    `overrides` are in creation order: a later one wins where two overlap.
    """
    if end <= start:
        return []
    zone = zone_of(schedule.timezone)
    stack: list[list[Shift]] = [layer_shifts(layer, zone, start, end) for layer in schedule.layers]
    for o in overrides:
        s, e = max(o.start, start), min(o.end, end)
        if e > s:
            stack.append([Shift(o.user, s, e, (f"override:{o.id}" if o.id is not None else "override",))])
    points = sorted({start, end, *(p for pieces in stack for s in pieces for p in (s.start, s.end))})
    starts = [[s.start for s in pieces] for pieces in stack]
    out: list[Shift] = []
    for a, b in itertools.pairwise(points):
        top = None
        for pieces, piece_starts in zip(reversed(stack), reversed(starts), strict=True):
            top = _covering(pieces, piece_starts, a)
            if top is not None:
                break
        if top is None:
            continue
        last = out[-1] if out else None
        if last is not None and last.user == top.user and last.end == a:
            sources = last.sources + tuple(s for s in top.sources if s not in last.sources)
            out[-1] = Shift(last.user, last.start, b, sources)
        else:
            out.append(Shift(top.user, a, b, top.sources))
    return out


def on_call(schedule: Schedule, t: datetime, overrides: Sequence[Override] = ()) -> str | None:
    """The user on call at instant `t`, or None if nobody is."""
    found = shifts(schedule, t, t + timedelta(seconds=1), overrides)
    return found[0].user if found and found[0].start == t else None


def shift_at(
    schedule: Schedule,
    t: datetime,
    overrides: Sequence[Override] = (),
    horizon: timedelta = timedelta(days=35),
) -> Shift | None:
    """The whole shift going on at `t` (its start and end looked for up to `horizon` away), or None."""
    for shift in shifts(schedule, t - horizon, t + horizon, overrides):
        if shift.contains(t):
            return shift
    return None

