"""`/status/maintenance.ics`: the scheduled maintenance of public services as an iCalendar feed.

Built with the on-call feeds' helpers (opsbook.oncall.ical): events in the team's zone with its
VTIMEZONE, and a UID made of the window and the occurrence's start, so a calendar app updates an event
when it is fetched again. Only maintenance touching a public service is listed, with the public services
only; from the one in progress to `FUTURE` ahead.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Event
from sqlalchemy.orm import Session

from opsbook.config.schema import OpsbookConfig
from opsbook.oncall.ical import domain_of, finish, new_calendar
from opsbook.silences.service import upcoming_maintenance

FUTURE = timedelta(days=90)
PER_WINDOW = 100


def maintenance_feed(session: Session, config: OpsbookConfig, now: datetime) -> bytes:
    public = {s.name for s in config.services if s.public}
    page = config.status_page.title or config.title
    zone = ZoneInfo(config.timezone)
    domain = domain_of(config.base_url)
    cal = new_calendar(f"{page}: scheduled maintenance", config.timezone)
    for m in upcoming_maintenance(session, now, config.maintenance_windows, horizon=FUTURE,
                                  per_window=PER_WINDOW, services=config.services):
        shown = sorted(s for s in m.services if s in public)
        if not shown:
            continue
        event = Event()
        ref = re.sub(r"[^A-Za-z0-9_.-]+", "-", m.ref).strip("-")
        event.add("uid", f"{ref}-{m.starts_at.astimezone(UTC):%Y%m%dT%H%M%SZ}@{domain}")
        event.add("dtstamp", now)
        event.add("dtstart", m.starts_at.astimezone(zone))
        event.add("dtend", m.ends_at.astimezone(zone))
        event.add("summary", f"Maintenance: {m.title}")
        event.add("description", f"Affects: {', '.join(shown)}. {m.description}".strip())
        event.add("categories", ["maintenance", *shown])
        event.add("transp", "OPAQUE")
        cal.add_component(event)
    return finish(cal, config.timezone, now)
