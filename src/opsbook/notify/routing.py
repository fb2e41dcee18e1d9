"""Routing: which channels get a message, whether it pages, and when it may go out.

Pure functions over the config and an instant passed in. `route_for(config, severity, now)` is routing
by severity: `action` says page / notify / log, `channels` where to send (empty for log), `send_after`
holds P3-style messages until business hours, `group_window` is how long a firing message waits for
others of its service. A message (notify.messages) picks its `Destination` with the helpers below: by
severity, to a person's contacts, or to the incident update channels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from opsbook.config.schema import OpsbookConfig
from opsbook.notify.config import WEEKDAY_INDEX, Action, BusinessHours, Channel, Grouping, Routing
from opsbook.notify.contacts import first_contacts
from opsbook.rules.severity import Severity


@dataclass(frozen=True)
class RouteDecision:
    severity: Severity
    action: Action
    channels: tuple[str, ...]
    send_after: datetime | None
    group_window: timedelta


def in_business_hours(now: datetime, hours: BusinessHours, timezone: str) -> bool:
    local = now.astimezone(ZoneInfo(timezone))
    days = {WEEKDAY_INDEX[d] for d in hours.days}
    return local.weekday() in days and hours.start <= local.time() < hours.end


def next_business_start(now: datetime, hours: BusinessHours, timezone: str) -> datetime:
    """`now` if within business hours, else the next instant they begin (in UTC)."""
    if in_business_hours(now, hours, timezone):
        return now
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    days = {WEEKDAY_INDEX[d] for d in hours.days}
    for offset in range(8):
        day = (local + timedelta(days=offset)).date()
        if day.weekday() not in days:
            continue
        start = datetime.combine(day, hours.start, tzinfo=zone)
        # a start inside a DST gap does not exist; round-tripping through UTC moves it forward
        start = start.astimezone(ZoneInfo("UTC")).astimezone(zone)
        if start > local:
            return start.astimezone(ZoneInfo("UTC"))
    raise AssertionError("business hours have at least one day, so one starts within a week")


def route(
    severity: Severity | str,
    now: datetime,
    *,
    channels: Sequence[Channel],
    routing: Routing,
    business_hours: BusinessHours,
    grouping: Grouping,
    timezone: str = "UTC",
) -> RouteDecision:
    sev = Severity.parse(str(severity))
    rule = routing.for_severity(sev)
    if rule.action == "log":
        return RouteDecision(sev, "log", (), None, timedelta(0))
    names = tuple(rule.channels) if rule.channels is not None else tuple(c.name for c in channels)
    send_after = None
    if rule.business_hours_only:
        start = next_business_start(now, business_hours, timezone)
        send_after = start if start > now else None
    return RouteDecision(sev, rule.action, names, send_after, grouping.window_for(sev))


def route_for(config: OpsbookConfig, severity: Severity | str, now: datetime) -> RouteDecision:
    """The routing decision for a message of `severity` decided at `now`, per opsbook.yaml."""
    return route(
        severity,
        now,
        channels=config.channels,
        routing=config.routing,
        business_hours=config.business_hours,
        grouping=config.grouping,
        timezone=config.timezone,
    )


@dataclass(frozen=True)
class Destination:
    """Where one message goes and when: its channels (none: nowhere), held until `send_after`, and
    grouped with others of `group_key` waiting at most `group_window`."""

    channels: tuple[str, ...]
    action: Action = "notify"
    send_after: datetime | None = None
    group_key: str | None = None
    group_window: timedelta = timedelta(0)


NOWHERE = Destination(())


def by_severity(
    config: OpsbookConfig, severity: Severity | str, now: datetime, group_key: str | None = None
) -> Destination:
    """Where the `routing:` of `severity` sends a message decided at `now` (grouped if `group_key`)."""
    decision = route_for(config, severity, now)
    window = decision.group_window if group_key is not None else timedelta(0)
    return Destination(decision.channels, decision.action, decision.send_after, group_key, window)


def to_person(
    config: OpsbookConfig, user: str, severities: Sequence[str], action: Action = "page"
) -> Destination:
    """`user`'s contacts for the first of `severities` they have any for (NOWHERE if none)."""
    channels = first_contacts(config, user, severities)
    return Destination(tuple(channels), action) if channels else NOWHERE


def to_update_channels(config: OpsbookConfig, severity: Severity | str, now: datetime) -> Destination:
    """`incidents.update_channels`, else the channels the severity routes to (none if it only logs),
    at once and never grouped."""
    configured = config.incidents.update_channels
    if configured is not None:
        return Destination(tuple(configured))
    decision = route_for(config, severity, now)
    return NOWHERE if decision.action == "log" else Destination(decision.channels)
