"""The on-call iCalendar feeds (`.ics`): a schedule's shifts, or one person's across schedules, from 30
days ago to 90 days ahead. Kept apart from the on-call service so the commands a responder types do not
load the calendar library."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from opsbook.config.schema import OpsbookConfig
from opsbook.oncall import ical
from opsbook.oncall.service import schedule_shifts, user_shifts
from opsbook.oncall.store import get_schedule, get_user, users_by_name

FEED_PAST = timedelta(days=30)
FEED_FUTURE = timedelta(days=90)


def schedule_feed(session: Session, config: OpsbookConfig, schedule: str, now: datetime) -> bytes:
    """The iCalendar feed of `schedule`: its shifts from 30 days ago to 90 days ahead."""
    sched = get_schedule(config, schedule)
    found = schedule_shifts(session, config, schedule, now - FEED_PAST, now + FEED_FUTURE)
    return ical.schedule_calendar(schedule, sched.timezone, found, users_by_name(config), now)


def user_feed(session: Session, config: OpsbookConfig, user: str, now: datetime) -> bytes:
    """The iCalendar feed of `user`: their shifts on every schedule, 30 days ago to 90 days ahead."""
    found = user_shifts(session, config, user, now - FEED_PAST, now + FEED_FUTURE)
    return ical.user_calendar(get_user(config, user), found, users_by_name(config), now)
