"""When a chore falls due: the latest instant of its cron schedule, in its time zone, at or before now
(pure: the instant is given)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo


def last_due(cron: str, zone: str, now: datetime) -> datetime:
    """The latest instant at or before `now` that `cron` (read in `zone`) fires, in UTC."""
    from croniter import croniter

    # croniter's previous instant is strictly before its start: start just past `now`'s whole second
    start = now.astimezone(ZoneInfo(zone)).replace(microsecond=0) + timedelta(seconds=1)
    prev: datetime = croniter(cron, start).get_prev(datetime)
    return prev.astimezone(UTC)


def next_due(cron: str, zone: str, now: datetime) -> datetime:
    """The first instant after `now` that `cron` (read in `zone`) fires, in UTC."""
    from croniter import croniter

    following: datetime = croniter(cron, now.astimezone(ZoneInfo(zone))).get_next(datetime)
    return following.astimezone(UTC)
