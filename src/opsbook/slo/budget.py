"""Availability against a target over a window, exactly: the SLI, the error budget used and left, and the
burn rate. Pure: spans in, fractions out.

Over a window, *eligible* time is the time the service's state was known, less its maintenance when
that is excluded; *bad* time is the eligible time it was down. Then

    SLI         = (eligible − bad) / eligible
    allowed     = (1 − target) × eligible          (the error budget, in time)
    budget used = bad / allowed                    (1 = all of it; more = overspent)
    burn rate   = (bad / eligible) / (1 − target)  (1 = the budget lasts exactly the window)
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from opsbook.slo.timeline import SECOND, Spans, inside, minus
from opsbook.slo.timeline import ServiceTime as ServiceTime


@dataclass(frozen=True)
class Counted:
    """What counts for the objective: the eligible spans and the bad spans among them."""

    eligible: Spans
    bad: Spans


def counted(time: ServiceTime, excluded: Spans) -> Counted:
    """The service's known and down time with `excluded` (maintenance) cut out of both."""
    return Counted(minus(time.known, excluded), minus(time.down, excluded))


class Objective:
    """What any objective's figures derive from its SLI (good share) and its target (fractions of 1).

    Over the objective's own window the budget used is its burn rate: bad share / allowed share."""

    target: Fraction

    @property
    def sli(self) -> Fraction | None:
        raise NotImplementedError

    @property
    def burn_rate(self) -> Fraction | None:
        """How many times faster than the target allows the budget burns (1: it lasts the window)."""
        sli = self.sli
        return None if sli is None else (1 - sli) / (1 - self.target)

    @property
    def budget_used(self) -> Fraction | None:
        """0 untouched, 1 spent, above 1 overspent; None when nothing is known."""
        return self.burn_rate

    @property
    def budget_left(self) -> Fraction | None:
        used = self.budget_used
        return None if used is None else 1 - used

    @property
    def met(self) -> bool | None:
        sli = self.sli
        return None if sli is None else sli >= self.target


@dataclass(frozen=True)
class Availability(Objective):
    """Eligible and bad microseconds of one window against a target (a fraction of 1, e.g. 999/1000)."""

    eligible_us: int
    bad_us: int
    target: Fraction

    @property
    def good_us(self) -> int:
        return self.eligible_us - self.bad_us

    @property
    def sli(self) -> Fraction | None:
        """The share of eligible time up; None when nothing is known."""
        return Fraction(self.good_us, self.eligible_us) if self.eligible_us else None

    @property
    def allowed_us(self) -> Fraction:
        """The error budget of the window: the bad time the target allows (budget used = bad / allowed)."""
        return (1 - self.target) * self.eligible_us

    @property
    def down_minutes(self) -> Fraction:
        return Fraction(self.bad_us, 60 * SECOND)


def measure(counts: Counted, start: int, end: int, target: Fraction) -> Availability:
    """Availability over [start, end) (microseconds)."""
    return Availability(inside(counts.eligible, start, end), inside(counts.bad, start, end), target)
