"""Recurring maintenance windows: a cron expression, a duration and an IANA time zone. Pure arithmetic.

"Sundays 02:00-04:00 UTC" is `cron "0 2 * * 0"`, `duration 2h`, `timezone UTC`. Each time the cron
expression fires, read as wall-clock time in the window's zone, an occurrence starts; it lasts
`duration` of real (elapsed) time, and a window is active at t iff t is in [start, start + duration)
of some occurrence.

Daylight saving time follows cron (vixie/cronie): a fixed-time expression (neither minute nor hour
starts with `*`) whose time falls into the hour skipped in spring starts at the first instant after
the gap (02:30 Europe/Berlin on the last Sunday of March starts at 03:00 CEST), and in autumn,
when an hour repeats, it starts once, at the first of the two (02:30 CEST, not again at 02:30 CET).
Expressions with `*` in minute or hour (`*/30 * * * *`) fire in both copies of the repeated hour.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

from opsbook.silences.matchers import ALERT_ONLY, AlertAttrs, Matcher, matches_all

_ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def check_cron(expr: str) -> str:
    """The expression with aliases expanded, or ValueError saying what is wrong with it."""
    # loaded when used, not with the config's classes (see config/cron.py)
    from croniter import CroniterBadCronError, CroniterBadDateError, CroniterError, croniter

    text = " ".join(str(expr).split())
    text = _ALIASES.get(text.lower(), text)
    if len(text.split(" ")) != 5:
        raise ValueError(f"{expr!r} is not a cron expression: use 5 fields 'minute hour day month weekday'")
    try:
        croniter(text, _EPOCH).get_next(datetime)
    except CroniterBadDateError:
        raise ValueError(f"cron expression {expr!r} never fires") from None
    except (CroniterBadCronError, CroniterError, ValueError, KeyError) as exc:
        raise ValueError(f"{expr!r} is not a valid cron expression: {exc}") from None
    return text


@dataclass(frozen=True)
class Occurrence:
    """One occurrence of a window, in UTC: [start, end)."""

    start: datetime
    end: datetime

    def contains(self, t: datetime) -> bool:
        return self.start <= t < self.end


@dataclass(frozen=True)
class RecurringWindow:
    """A recurring maintenance window and what it mutes (every matcher must match)."""

    name: str
    cron: str
    duration: timedelta
    timezone: str = "UTC"
    title: str = ""
    description: str = ""
    matchers: tuple[Matcher, ...] = ()
    services: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "cron", check_cron(self.cron))
        if self.duration <= timedelta(0):
            raise ValueError("a maintenance window's duration must be positive")
        ZoneInfo(self.timezone)

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def fixed_time(self) -> bool:
        minute, hour = self.cron.split(" ")[:2]
        return not minute.startswith("*") and not hour.startswith("*")

    def applies_to(self, attrs: AlertAttrs) -> bool:
        return matches_all(self.matchers, attrs)

    def covers(self, service: str, labels: Mapping[str, str]) -> bool:
        """Whether this is maintenance of `service` as a whole (see `mute.covered_services`): its matchers
        about services (`service`, labels) match the service, and there is at least one of them."""
        scope = [m for m in self.matchers if m.name not in ALERT_ONLY]
        return bool(scope) and matches_all(scope, AlertAttrs(service=service, labels=labels))


def _starts(window: RecurringWindow, start: datetime, forward: bool) -> Iterator[datetime]:
    """Occurrence starts strictly after (forward) or strictly before (backward) `start`, in UTC."""
    from croniter import croniter  # loaded when used, not with the config's classes (see config/cron.py)

    _aware(start)
    it = croniter(window.cron, start.astimezone(window.zone))
    while True:
        found: datetime = it.get_next(datetime) if forward else it.get_prev(datetime)
        local = found.astimezone(UTC).astimezone(window.zone)
        if window.fixed_time and local.fold == 1 and _ambiguous(local):
            continue  # the repeated copy of an autumn hour: a fixed-time job runs once
        yield local.astimezone(UTC)


def _ambiguous(local: datetime) -> bool:
    return local.replace(fold=0).utcoffset() != local.replace(fold=1).utcoffset()


def _aware(t: datetime) -> None:
    if t.tzinfo is None:
        raise ValueError("naive datetime given to window arithmetic; use an aware UTC datetime")


def next_occurrences(window: RecurringWindow, after: datetime, n: int) -> list[Occurrence]:
    """The next `n` occurrences starting strictly after `after`."""
    out: list[Occurrence] = []
    if n <= 0:
        return out
    for start in _starts(window, after, forward=True):
        out.append(Occurrence(start, start + window.duration))
        if len(out) >= n:
            break
    return out


def occurrence_at(window: RecurringWindow, t: datetime) -> Occurrence | None:
    """The occurrence in progress at `t` (the latest started, if several overlap), or None."""
    start = next(_starts(window, t + timedelta(microseconds=1), forward=False))
    if start <= t < start + window.duration:
        return Occurrence(start, start + window.duration)
    return None


def active_at(window: RecurringWindow, t: datetime) -> bool:
    """True iff `t` lies in [start, start + duration) of some occurrence."""
    return occurrence_at(window, t) is not None


def occurrences_between(window: RecurringWindow, since: datetime, until: datetime) -> list[Occurrence]:
    """Every occurrence overlapping [since, until), in start order."""
    out: list[Occurrence] = []
    for start in _starts(window, since - window.duration, forward=True):
        if start >= until:
            break
        if start + window.duration > since:
            out.append(Occurrence(start, start + window.duration))
    return out


def next_change(window: RecurringWindow, t: datetime) -> datetime:
    """The first instant after `t` at which an occurrence starts or ends (when muting may change)."""
    next_start = next(_starts(window, t, forward=True))
    next_end = next(_starts(window, t - window.duration, forward=True)) + window.duration
    return min(next_start, next_end)
