"""Is this alert muted, and by what? Pure decisions over silences and maintenance windows.

Muting affects notifications only: the pipeline still evaluates rules and records alerts, and marks
a muted alert with the `MuteReason` returned here. When the mute ends and the alert still fires,
it must notify; `newly_unmuted` finds those alerts and `next_change` says when to look again.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, TypeVar

from opsbook.silences.matchers import AlertAttrs, Matcher, matches_all
from opsbook.silences.windows import RecurringWindow, occurrence_at
from opsbook.silences.windows import next_change as window_next_change
from opsbook.timefmt import show_time

K = TypeVar("K", bound=Hashable)
MuteKind = Literal["silence", "maintenance"]


@dataclass(frozen=True)
class Silence:
    """A silence as pure code sees it: active in [starts_at, min(ends_at, expired_at))."""

    id: int
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str = ""
    comment: str = ""
    expired_at: datetime | None = None

    @property
    def effective_end(self) -> datetime:
        return self.ends_at if self.expired_at is None else min(self.ends_at, self.expired_at)

    def active_at(self, t: datetime) -> bool:
        return self.starts_at <= t < self.effective_end

    def state(self, t: datetime) -> Literal["pending", "active", "expired"]:
        if t >= self.effective_end:
            return "expired"
        return "pending" if t < self.starts_at else "active"


@dataclass(frozen=True)
class OneOffWindow:
    """A one-off maintenance window of some services: active in [starts_at, ends_at) unless cancelled."""

    id: int
    services: tuple[str, ...]
    starts_at: datetime
    ends_at: datetime
    title: str = ""
    description: str = ""
    created_by: str = ""
    cancelled_at: datetime | None = None

    @property
    def effective_end(self) -> datetime:
        return self.ends_at if self.cancelled_at is None else min(self.ends_at, self.cancelled_at)

    def active_at(self, t: datetime) -> bool:
        return self.starts_at <= t < self.effective_end

    def applies_to(self, attrs: AlertAttrs) -> bool:
        return attrs.service in self.services

    def covers(self, service: str, labels: Mapping[str, str]) -> bool:
        return service in self.services


Window = RecurringWindow | OneOffWindow


class Scoped(Protocol):
    """What `covered_services` reads of a service (`config.schema.Service` is one)."""

    @property
    def name(self) -> str: ...

    @property
    def labels(self) -> Mapping[str, str]: ...


def covered_services(window: Window, services: Iterable[Scoped]) -> tuple[str, ...]:
    """The services a maintenance window is maintenance of, in the order given: what the status page, its
    subscribers and calendar, the maintenance lists and the SLOs take as "in maintenance".

    A one-off window names its services. A recurring one covers those it lists in `services:` and those
    its `match:` selects by service name or label (`match: {service: "api|web"}`, `{team: db}`); its
    matchers on one alert's check, rule or severity narrow which alerts it mutes, not which services it
    covers, and a window with only those (`match: {severity: P4}`) is maintenance of no service."""
    return tuple(s.name for s in services if window.covers(s.name, s.labels))


@dataclass(frozen=True)
class MuteReason:
    """What mutes an alert, for display: `silence:12`, `maintenance:sunday-db` or `maintenance:#3`."""

    kind: MuteKind
    ref: str
    until: datetime
    title: str
    created_by: str = ""

    def __str__(self) -> str:
        return f"{self.ref} until {self.until.isoformat()}: {self.title}"


_STORED_UNTIL = re.compile(r"(?<= until )\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[+-]\d{2}:\d{2}|Z)")


def mute_for_people(silenced_by: str, zone: str) -> str:
    """An alert's stored mute mark as people read it: the ISO instant after ` until ` (a silence's or a
    window's `silence:12 until …: title`, a held dependency's `waiting for its dependents until …`) in the
    team's `zone`, named; the stored mark stays ISO (the API's, and dependencies read theirs back)."""
    return _STORED_UNTIL.sub(lambda m: show_time(datetime.fromisoformat(m.group(0)), zone), silenced_by, 1)


def _silence_reason(silence: Silence) -> MuteReason:
    return MuteReason("silence", f"silence:{silence.id}", silence.effective_end, silence.comment,
                      silence.created_by)


def _window_reason(window: Window, t: datetime) -> MuteReason | None:
    if isinstance(window, OneOffWindow):
        if not window.active_at(t):
            return None
        return MuteReason("maintenance", f"maintenance:#{window.id}", window.effective_end,
                          window.title or "maintenance", window.created_by)
    occurrence = occurrence_at(window, t)
    if occurrence is None:
        return None
    return MuteReason("maintenance", f"maintenance:{window.name}", occurrence.end,
                      window.title or window.name, "config")


def all_mutes(
    alert_attrs: AlertAttrs, silences: Iterable[Silence], windows: Iterable[Window], now: datetime
) -> list[MuteReason]:
    """Every silence and window muting this alert at `now`: silences first, each group ending last first."""
    found = [_silence_reason(s) for s in silences
             if s.active_at(now) and matches_all(s.matchers, alert_attrs)]
    found.sort(key=lambda r: r.until, reverse=True)
    in_windows: list[MuteReason] = []
    for window in windows:
        if window.applies_to(alert_attrs):
            reason = _window_reason(window, now)
            if reason is not None:
                in_windows.append(reason)
    in_windows.sort(key=lambda r: r.until, reverse=True)
    return found + in_windows


def muted_by(
    alert_attrs: AlertAttrs, silences: Iterable[Silence], windows: Iterable[Window], now: datetime
) -> MuteReason | None:
    """The silence or window that mutes this alert at `now` (the longest-lasting silence first), or None."""
    mutes = all_mutes(alert_attrs, silences, windows, now)
    return mutes[0] if mutes else None


@dataclass(frozen=True)
class Mutes:
    """Everything that may mute at or after some instant: what `service.active_mutes` loads."""

    silences: tuple[Silence, ...] = ()
    windows: tuple[Window, ...] = ()

    def muted_by(self, alert_attrs: AlertAttrs, now: datetime) -> MuteReason | None:
        return muted_by(alert_attrs, self.silences, self.windows, now)

    def next_change(self, now: datetime) -> datetime | None:
        """The first instant after `now` when a silence or window starts or ends: re-check muting then."""
        candidates: list[datetime] = []
        for item in (*self.silences, *self.windows):
            if isinstance(item, RecurringWindow):
                candidates.append(window_next_change(item, now))
            else:
                candidates.extend(t for t in (item.starts_at, item.effective_end) if t > now)
        return min(candidates, default=None)


def newly_unmuted(
    alerts_firing: Mapping[K, AlertAttrs], muted_before: Collection[K], mutes_now: Mutes, now: datetime
) -> list[K]:
    """Alerts that were muted (keys in `muted_before`), still fire, and are no longer muted at `now`.

    The pipeline keeps `muted_by` on each alert; at every `mutes_now.next_change(...)` (and after a
    restart) it calls this with the firing alerts and the keys of those marked muted, sends their
    firing notification, and clears their mark. Alerts muted by something else now stay muted.
    """
    return [key for key, attrs in alerts_firing.items()
            if key in muted_before and mutes_now.muted_by(attrs, now) is None]

