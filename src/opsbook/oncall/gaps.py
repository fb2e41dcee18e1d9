"""Gaps: stretches of time nobody is on call, found ahead of time so someone can fill them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from opsbook.oncall.config import Schedule
from opsbook.oncall.rotation import Override, shifts, utc_to_local, zone_of


@dataclass(frozen=True)
class Gap:
    """A stretch of [start, end) when nobody is on call on `schedule`."""

    schedule: str
    start: datetime
    end: datetime

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


def gaps(schedule: Schedule, start: datetime, end: datetime, overrides: Sequence[Override] = ()) -> list[Gap]:
    """The stretches of [start, end) when nobody is on call, in order."""
    out: list[Gap] = []
    cursor = start
    for shift in shifts(schedule, start, end, overrides):
        if shift.start > cursor:
            out.append(Gap(schedule.name, cursor, shift.start))
        cursor = shift.end
    if cursor < end:
        out.append(Gap(schedule.name, cursor, end))
    return out


def describe(gap: Gap, timezone: str) -> str:
    """'nobody is on call on primary Tue 2026-01-13 02:00 - Tue 2026-01-13 09:00 (Europe/Berlin)'."""
    zone = zone_of(timezone)
    s, e = utc_to_local(gap.start, zone), utc_to_local(gap.end, zone)
    end = f"{e:%H:%M}" if e.date() == s.date() else f"{e:%a %Y-%m-%d %H:%M}"
    return f"nobody is on call on {gap.schedule} {s:%a %Y-%m-%d %H:%M} - {end} ({timezone})"
