"""iCalendar feeds of on-call shifts, one per schedule and one per user, built with `icalendar`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from icalendar import Calendar, Event

from opsbook.oncall.config import User
from opsbook.oncall.rotation import Shift

PRODID = "-//opsbook//on-call//EN"


def _calendar(name: str, timezone: str | None) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    if timezone:
        cal.add("x-wr-timezone", timezone)
    return cal


def _event(schedule: str, shift: Shift, users: Mapping[str, User], now: datetime) -> Event:
    user = users.get(shift.user)
    who = user.display if user else shift.user
    event = Event()
    event.add("uid", f"{schedule}-{shift.user}-{shift.start:%Y%m%dT%H%M%SZ}@opsbook")
    event.add("dtstamp", now)
    event.add("dtstart", shift.start)
    event.add("dtend", shift.end)
    event.add("summary", f"On call: {who} ({schedule})")
    detail = f"{who} is on call for {schedule}."
    if shift.is_override:
        detail += " This is an override."
    event.add("description", detail)
    event.add("categories", ["on-call", schedule])
    event.add("transp", "TRANSPARENT")
    return event


def schedule_calendar(
    schedule: str, timezone: str, shifts: Iterable[Shift], users: Mapping[str, User], now: datetime
) -> bytes:
    """A VCALENDAR with one event per shift of `schedule`."""
    cal = _calendar(f"On call: {schedule}", timezone)
    for shift in shifts:
        cal.add_component(_event(schedule, shift, users, now))
    return cal.to_ical()


def user_calendar(
    user: User, shifts: Iterable[tuple[str, Shift]], users: Mapping[str, User], now: datetime
) -> bytes:
    """A VCALENDAR with one event per shift of `user`, over every schedule: (schedule, shift) pairs."""
    cal = _calendar(f"On call: {user.display}", user.timezone)
    for schedule, shift in shifts:
        cal.add_component(_event(schedule, shift, users, now))
    return cal.to_ical()
