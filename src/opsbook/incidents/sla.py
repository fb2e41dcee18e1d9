"""Response SLA arithmetic, pure: when an incident must be acknowledged by.

- a duration: `opened_at + duration`;
- "next business day": the end of business hours of the first business day after the day the incident
  opened, in the team's time zone (opened Friday 15:00 → Monday 18:00; Saturday → Monday 18:00);
- none: no deadline.

Business days and hours come from the top-level `business_hours` (days, from, to) and `timezone`.
Wall-clock times that do not exist (a spring-forward gap) are moved forward past the gap.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from opsbook.incidents.config import NEXT_BUSINESS_DAY, SlaValue
from opsbook.notify.config import WEEKDAY_INDEX, BusinessHours


def _at(day_local: datetime, clock: time, zone: ZoneInfo) -> datetime:
    """The instant (UTC) of wall-clock `clock` on the local date of `day_local`, gaps moved forward."""
    naive = datetime.combine(day_local.date(), clock)
    local = naive.replace(tzinfo=zone)
    # round-trip through UTC: a non-existent local time comes back shifted past the gap
    return local.astimezone(UTC).astimezone(zone).astimezone(UTC)


def next_business_day_end(opened_at: datetime, hours: BusinessHours, timezone: str) -> datetime:
    """The end of business hours on the first business day after `opened_at`'s local date (UTC)."""
    zone = ZoneInfo(timezone)
    local = opened_at.astimezone(zone)
    days = {WEEKDAY_INDEX[d] for d in hours.days}
    for offset in range(1, 9):
        day = local + timedelta(days=offset)
        if day.weekday() in days:
            return _at(day, hours.end, zone)
    raise AssertionError("business hours have at least one day, so one comes within a week")


def ack_deadline(
    sla: SlaValue, opened_at: datetime, hours: BusinessHours, timezone: str
) -> datetime | None:
    """When an incident opened at `opened_at` must be acknowledged by, or None for no deadline."""
    if sla is None:
        return None
    if sla == NEXT_BUSINESS_DAY:
        return next_business_day_end(opened_at, hours, timezone)
    assert isinstance(sla, timedelta)
    return opened_at + sla


def breached(deadline: datetime | None, now: datetime, acknowledged_at: datetime | None) -> bool:
    """True once `now` reached the deadline and the incident was not acknowledged before it."""
    if deadline is None or now < deadline:
        return False
    return acknowledged_at is None or acknowledged_at > deadline
