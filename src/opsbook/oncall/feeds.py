"""The on-call iCalendar feeds (`.ics`): a schedule's shifts, or one person's across schedules, from 30
days ago to 90 days ahead. Kept apart from the on-call service so the commands a responder types do not
load the calendar library.

Every shift is whole: one that began before the window or ends after it is given with its real start and
end (looked for up to `REACH` away), so its UID, made from its start, is the same at every fetch and a
calendar app updates the event instead of adding another. Only a shift longer than that (one person on
call for more than a year) is cut, at an edge that moves once a week.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from opsbook.config.schema import OpsbookConfig
from opsbook.oncall import ical
from opsbook.oncall.rotation import Shift
from opsbook.oncall.service import schedule_shifts
from opsbook.oncall.store import get_schedule, get_user, users_by_name

FEED_PAST = timedelta(days=30)
FEED_FUTURE = timedelta(days=90)
MARGIN = timedelta(days=35)
"""Looked for beyond the window first: longer than any ordinary turn."""
REACH = timedelta(days=400)
"""Looked for beyond the window when a shift still touches the first search's edge."""
GRID = timedelta(days=7)
_EPOCH = datetime(2000, 1, 3, 0, 0, 7, tzinfo=UTC)
"""The grid's edges: Mondays at 00:00:07 UTC, where no handoff falls (they are whole minutes), so a shift
found starting or ending right at an edge is one the edge cut."""


def _floor(t: datetime) -> datetime:
    return _EPOCH + (t - _EPOCH) // GRID * GRID


def _ceil(t: datetime) -> datetime:
    return _floor(t) + (GRID if _floor(t) != t else timedelta(0))


Finder = Callable[[datetime, datetime], list[Shift]]


def whole_shifts(find: Finder, start: datetime, end: datetime) -> list[Shift]:
    """The shifts overlapping [start, end), each whole: `find(a, b)` gives the shifts of [a, b) cut to it,
    so it is asked over a wider span (edges on a weekly grid), and wider still when a shift touches an
    edge of the first one."""
    lo, hi = _floor(start - MARGIN), _ceil(end + MARGIN)
    inside = [s for s in find(lo, hi) if s.end > start and s.start < end]
    if inside and (inside[0].start <= lo or inside[-1].end >= hi):  # cut by the span: look further
        lo, hi = _floor(start - REACH), _ceil(end + REACH)
        inside = [s for s in find(lo, hi) if s.end > start and s.start < end]
    return inside


def _finder(session: Session, config: OpsbookConfig, schedule: str) -> Finder:
    def find(start: datetime, end: datetime) -> list[Shift]:
        return schedule_shifts(session, config, schedule, start, end)

    return find


def _domain(config: OpsbookConfig) -> str:
    return ical.domain_of(config.base_url)


def schedule_feed(session: Session, config: OpsbookConfig, schedule: str, now: datetime) -> bytes:
    """The iCalendar feed of `schedule`: its shifts from 30 days ago to 90 days ahead, whole."""
    sched = get_schedule(config, schedule)
    found = whole_shifts(_finder(session, config, schedule), now - FEED_PAST, now + FEED_FUTURE)
    users = users_by_name(config)
    return ical.schedule_calendar(schedule, sched.timezone, found, users, now, _domain(config))


def user_feed(session: Session, config: OpsbookConfig, user: str, now: datetime) -> bytes:
    """The iCalendar feed of `user`: their shifts on every schedule, 30 days ago to 90 days ahead, whole."""
    person = get_user(config, user)
    found = [
        (s.name, shift)
        for s in config.schedules
        for shift in whole_shifts(_finder(session, config, s.name), now - FEED_PAST, now + FEED_FUTURE)
        if shift.user == user
    ]
    found.sort(key=lambda pair: (pair[1].start, pair[0]))
    return ical.user_calendar(person, person.timezone or config.timezone, found, users_by_name(config), now,
                              _domain(config))
