"""Multi-window burn-rate alerting (Google SRE workbook, "Alerting on SLOs"), exactly. Pure.

An alert with factor f, long window L and short window S fires at t while over both [t − L, t) and
[t − S, t) the budget burns at least f times too fast:

    bad(W, t) ≥ f × (1 − target) × eligible(W, t)   and   bad(W, t) > 0

Both sides are piecewise linear in t (slopes 0 or 1 between the instants a span starts or ends, or
starts or ends W earlier), so the instant the condition next changes, if the service's state and its
maintenance stay as they are, is found by solving on each linear piece: the watch wakes exactly then.
Instants are whole microseconds; a condition that holds from a fractional root on holds from the next
microsecond.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from opsbook.slo.budget import Counted
from opsbook.slo.timeline import inside


@dataclass(frozen=True)
class Window:
    """One window of a burn alert: length in microseconds, and the bad share that trips it (f × (1 − t))."""

    length: int
    share: Fraction

    def _g(self, counts: Counted, t: int) -> Fraction:
        start = t - self.length
        return inside(counts.bad, start, t) - self.share * inside(counts.eligible, start, t)

    def _bad(self, counts: Counted, t: int) -> int:
        return inside(counts.bad, t - self.length, t)

    def burning(self, counts: Counted, t: int) -> bool:
        """The condition at instant t (the window is [t − length, t))."""
        return self._bad(counts, t) > 0 and self._g(counts, t) >= 0

    def _breaks(self, counts: Counted, after: int, until: int) -> list[int]:
        points = set()
        for spans in (counts.bad, counts.eligible):
            for a, b in spans:
                for p in (a, b, a + self.length, b + self.length):
                    if after < p <= until:
                        points.add(p)
        points.add(until)
        return sorted(points)

    def next_change(self, counts: Counted, now: int, until: int) -> int | None:
        """The first instant in (now, until] at which `burning` differs from now; None if none does."""
        current = self.burning(counts, now)
        prev = now
        for point in self._breaks(counts, now, until):
            candidates = {point}
            for f in (lambda t: self._g(counts, t), lambda t: Fraction(self._bad(counts, t) - 1)):
                f0, f1 = f(prev), f(point)
                if f0 != f1:  # linear on [prev, point]: where it crosses 0
                    root = prev + (-f0) * (point - prev) / (f1 - f0)
                    candidates.update((math.ceil(root), math.floor(root) + 1))
            for t in sorted(c for c in candidates if prev < c <= point):
                if self.burning(counts, t) != current:
                    return t
            prev = point
        return None


@dataclass(frozen=True)
class BurnRule:
    """A multi-window alert: fires while both its windows burn."""

    long: Window
    short: Window

    @classmethod
    def of(cls, factor: float, long_us: int, short_us: int, target: Fraction) -> BurnRule:
        share = Fraction(repr(factor)) * (1 - target)
        return cls(Window(long_us, share), Window(short_us, share))

    def firing(self, counts: Counted, t: int) -> bool:
        return self.long.burning(counts, t) and self.short.burning(counts, t)

    def next_change(self, counts: Counted, now: int, until: int) -> int | None:
        """The first instant in (now, until] at which `firing` differs from now; None if none does."""
        current = self.firing(counts, now)
        t = now
        while True:
            found = [c for w in (self.long, self.short) if (c := w.next_change(counts, t, until)) is not None]
            if not found:
                return None
            t = min(found)
            if self.firing(counts, t) != current:
                return t
