"""Spans of time as sorted, disjoint [start, end) intervals in integer microseconds: a service's down
and known time from its checks' state changes, maintenance cut out, and how much of a set lies inside a
window. Pure and exact (integers: no float rounding of seconds)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from opsbook.checks.uptime import StateHistory

Spans = tuple[tuple[int, int], ...]
"""Sorted, disjoint, non-empty [start, end) intervals in microseconds since the epoch."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SECOND = 1_000_000


def micros(t: datetime) -> int:
    """`t` (aware) as integer microseconds since the epoch."""
    delta = t - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * SECOND + delta.microseconds


def instant(us: int) -> datetime:
    """Microseconds since the epoch as an aware UTC datetime."""
    return _EPOCH + timedelta(microseconds=us)


def length(span: timedelta) -> int:
    """A duration in integer microseconds."""
    return (span.days * 86_400 + span.seconds) * SECOND + span.microseconds


def union(spans: Iterable[tuple[int, int]]) -> Spans:
    """The intervals merged: sorted, disjoint, empty ones dropped (touching ones joined)."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return tuple(out)


def minus(spans: Spans, cut: Spans) -> Spans:
    """`spans` without the time in `cut`."""
    out: list[tuple[int, int]] = []
    j = 0
    for start, end in spans:
        cursor = start
        while j < len(cut) and cut[j][1] <= cursor:
            j += 1
        k = j
        while k < len(cut) and cut[k][0] < end:
            if cut[k][0] > cursor:
                out.append((cursor, cut[k][0]))
            cursor = max(cursor, cut[k][1])
            k += 1
        if cursor < end:
            out.append((cursor, end))
    return tuple(out)


def inside(spans: Spans, start: int, end: int) -> int:
    """Microseconds of `spans` within [start, end)."""
    total = 0
    for a, b in spans:
        if b <= start:
            continue
        if a >= end:
            break
        total += min(b, end) - max(a, start)
    return total


def clip(spans: Spans, start: int, end: int) -> Spans:
    """`spans` cut to [start, end)."""
    return tuple((max(a, start), min(b, end)) for a, b in spans if b > start and a < end)


@dataclass(frozen=True)
class ServiceTime:
    """When a service was down, and when anything was known of it, over [start, end)."""

    down: Spans
    known: Spans


def service_time(checks: Sequence[StateHistory], start: int, end: int) -> ServiceTime:
    """Down while any check with a known state is down; known while any check has a state."""
    down: list[tuple[int, int]] = []
    known: list[tuple[int, int]] = []
    for check in checks:
        state, since = check.before, start
        for ts, status in [*((micros(t), s) for t, s in check.changes), (end, "")]:
            ts = min(max(ts, start), end)
            if state is not None and ts > since:
                known.append((since, ts))
                if state == "down":
                    down.append((since, ts))
            state, since = (status or state), ts
    return ServiceTime(union(down), union(known))
