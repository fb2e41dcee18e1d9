"""iCalendar feeds of on-call shifts, one per schedule and one per user, built with `icalendar`.

Each shift is a VEVENT in the calendar's zone (the schedule's, or the user's), whose VTIMEZONE the
calendar carries; so a calendar with no shift still holds one component, as RFC 5545 requires (the
status page's maintenance feed is built with the same helpers). A shift's
UID is made of the schedule, the person and the shift's start, and `domain` (the host of `base_url`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone

from opsbook.oncall.config import User
from opsbook.oncall.rotation import Shift

PRODID = "-//opsbook//on-call//EN"
ZONE_SPAN = timedelta(days=400)
"""The VTIMEZONE lists the zone's offset changes this far either side of now (not 1970 to 2038)."""


def new_calendar(name: str, timezone: str) -> Calendar:
    """An empty VCALENDAR named `name`, its events in `timezone` (shared with the maintenance feed)."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", timezone)
    return cal


def domain_of(base_url: str) -> str:
    """The host of `base_url`, which makes a feed's UIDs unique beyond this opsbook."""
    return urlsplit(base_url).hostname or "opsbook"


def _event(schedule: str, shift: Shift, users: Mapping[str, User], now: datetime, zone: ZoneInfo,
           domain: str) -> Event:
    user = users.get(shift.user)
    who = user.display if user else shift.user
    event = Event()
    event.add("uid", f"{schedule}-{shift.user}-{shift.start.astimezone(UTC):%Y%m%dT%H%M%SZ}@{domain}")
    event.add("dtstamp", now)
    event.add("dtstart", shift.start.astimezone(zone))
    event.add("dtend", shift.end.astimezone(zone))
    event.add("summary", f"On call: {who} ({schedule})")
    detail = f"{who} is on call for {schedule}."
    if shift.is_override:
        detail += " This is an override."
    event.add("description", detail)
    event.add("categories", ["on-call", schedule])
    event.add("transp", "TRANSPARENT")
    return event


@lru_cache(maxsize=32)
def _vtimezone(timezone: str, first: date, last: date) -> Timezone:
    """The VTIMEZONE of `timezone` from `first` to `last` (built once a day per zone; never changed after)."""
    return Timezone.from_tzid(timezone, first_date=first, last_date=last)


def finish(cal: Calendar, timezone: str, now: datetime) -> bytes:
    """Add the VTIMEZONE of the calendar's zone, the one every event is written in (and the one component
    of a calendar with no shift)."""
    cal.add_component(_vtimezone(timezone, (now - ZONE_SPAN).date(), (now + ZONE_SPAN).date()))
    return cal.to_ical()


def schedule_calendar(
    schedule: str, timezone: str, shifts: Iterable[Shift], users: Mapping[str, User], now: datetime,
    domain: str = "opsbook",
) -> bytes:
    """A VCALENDAR with one event per shift of `schedule`, in its zone."""
    cal = new_calendar(f"On call: {schedule}", timezone)
    zone = ZoneInfo(timezone)
    for shift in shifts:
        cal.add_component(_event(schedule, shift, users, now, zone, domain))
    return finish(cal, timezone, now)


def user_calendar(
    user: User, timezone: str, shifts: Iterable[tuple[str, Shift]], users: Mapping[str, User], now: datetime,
    domain: str = "opsbook",
) -> bytes:
    """A VCALENDAR with one event per shift of `user` over every schedule ((schedule, shift) pairs), in
    `timezone` (the user's)."""
    cal = new_calendar(f"On call: {user.display}", timezone)
    zone = ZoneInfo(timezone)
    for schedule, shift in shifts:
        cal.add_component(_event(schedule, shift, users, now, zone, domain))
    return finish(cal, timezone, now)
