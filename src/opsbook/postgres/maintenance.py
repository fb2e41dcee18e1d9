"""When a maintenance task runs: its cron schedule inside a maintenance window. Pure arithmetic.

A task fires at the times of its cron expression (read in its time zone); every firing must fall inside
an occurrence of its maintenance window (`schedule_outside` finds the first that does not, for the
config's validation). At `now`, the firings since the task's last recorded one are either due (their
window occurrence is still open: the latest such firing runs now) or missed (their window has closed
without a run). A run's statement_timeout is capped at the time left in the window, so a statement
cannot outlast it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from opsbook.silences.windows import (
    Occurrence,
    RecurringWindow,
    next_occurrences,
    occurrence_at,
    occurrences_between,
)

CHECK_FROM = datetime(2025, 1, 1, tzinfo=UTC)
CHECK_SPAN = timedelta(days=2 * 366)
CHECK_LIMIT = 5000
"""Validation checks the firings of two years (every weekday, month day and DST change), at most this many."""


def schedule(name: str, cron: str, timezone: str) -> RecurringWindow:
    """A task's cron schedule as the window arithmetic reads it (each firing an instant)."""
    return RecurringWindow(name=name, cron=cron, duration=timedelta(microseconds=1), timezone=timezone)


def schedule_outside(task: RecurringWindow, window: RecurringWindow) -> datetime | None:
    """The first firing (over two years) that no occurrence of `window` contains; None if all fit."""
    after = CHECK_FROM
    for _ in range(CHECK_LIMIT):
        found = next_occurrences(task, after, 1)
        if not found or found[0].start > CHECK_FROM + CHECK_SPAN:
            return None
        fired = found[0].start
        if occurrence_at(window, fired) is None:
            return fired
        after = fired
    return None


@dataclass(frozen=True)
class Decision:
    """What to do about one task at one instant."""

    due: datetime | None = None  # the firing to run now
    window: Occurrence | None = None  # the occurrence the due firing is in
    missed: list[datetime] = field(default_factory=list)  # firings whose window closed without a run

    def statement_timeout(self, configured: timedelta, now: datetime) -> timedelta:
        """The configured timeout, capped at what is left of the window."""
        if self.window is None:
            return configured
        return max(timedelta(0), min(configured, self.window.end - now))


def decide(task: RecurringWindow, window: RecurringWindow, after: datetime, now: datetime) -> Decision:
    """The firings in (after, now]: the latest one whose window is still open is due; the others missed."""
    firings = [o.start for o in occurrences_between(task, after, now + timedelta(microseconds=1))]
    firings = [f for f in firings if after < f <= now]
    due: datetime | None = None
    open_window: Occurrence | None = None
    missed: list[datetime] = []
    for fired in firings:
        occurrence = occurrence_at(window, fired)
        if occurrence is not None and occurrence.contains(now):
            if due is not None:
                missed.append(due)
            due, open_window = fired, occurrence
        else:
            missed.append(fired)
    return Decision(due, open_window, missed)


def next_firing(task: RecurringWindow, now: datetime) -> datetime:
    return next_occurrences(task, now, 1)[0].start

