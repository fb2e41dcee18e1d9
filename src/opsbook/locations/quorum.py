"""The quorum of a check probed from several locations, and the combined verdict (pure: no store, no clock).

    q = Quorum.parse("2 of 3", locations=3)          # or "majority" (the default), "all", "any"
    v = verdict(["eu", "us", "ap"], q, latest, now, fresh_for=timedelta(seconds=130))
    v.status, v.message                               # "up", "down from ap only"

`latest` holds each location's newest result. A location whose newest result is older than `fresh_for`
(or that has none) is *silent*: it votes neither way, so a location that stops reporting never makes its
checks look down (it is an alert of its own: opsbook.locations.watch). The check is down when at least
`quorum` locations report down; degraded when at least `quorum` report down or degraded; up otherwise.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

_N_OF_M = re.compile(r"^\s*(\d+)\s+of\s+(\d+)\s*$")
FORMS = ("N of M", "majority", "all", "any")


@dataclass(frozen=True)
class Quorum:
    """How many of a check's locations must report it down for it to be down."""

    needed: int
    of: int

    @classmethod
    def majority(cls, locations: int) -> Quorum:
        return cls(locations // 2 + 1, locations)

    @classmethod
    def parse(cls, text: str, locations: int) -> Quorum:
        """`2 of 3`, `majority`, `all` or `any` for a check with `locations` locations; ValueError if not."""
        word = text.strip().lower()
        if word == "majority":
            return cls.majority(locations)
        if word == "all":
            return cls(locations, locations)
        if word == "any":
            return cls(1, locations)
        found = _N_OF_M.match(word)
        if found is None:
            raise ValueError(f"unknown quorum {text!r}: write one of {', '.join(FORMS)} (e.g. '2 of 3')")
        needed, of = int(found[1]), int(found[2])
        if of != locations:
            raise ValueError(f"'{text}' counts {of} locations but the check lists {locations}")
        if needed < 1:
            raise ValueError(f"'{text}': at least one location must report down")
        if needed > of:
            raise ValueError(f"'{text}': the quorum is larger than the {of} locations")
        return cls(needed, of)

    @property
    def text(self) -> str:
        return f"{self.needed} of {self.of}"


@dataclass(frozen=True, slots=True)
class Report:
    """A location's newest result, as the verdict sees it."""

    ts: datetime
    status: str  # up | degraded | down
    latency_ms: float | None = None
    message: str = ""


@dataclass(frozen=True)
class Verdict:
    status: str
    down_from: tuple[str, ...]
    degraded_from: tuple[str, ...]
    up_from: tuple[str, ...]
    silent: tuple[str, ...]
    quorum: Quorum
    latency_ms: float | None

    @property
    def disagreeing(self) -> tuple[str, ...]:
        """The reporting locations whose own result is not the verdict's."""
        if self.status == "down":
            return (*self.degraded_from, *self.up_from)
        if self.status == "degraded":
            return self.up_from
        return (*self.down_from, *self.degraded_from)

    @property
    def message(self) -> str:
        """One line for people: "down from ap only", "down from eu, us (2 of 3)", "up from eu, us, ap"."""
        parts: list[str] = []
        if self.status == "down":
            parts.append(f"down from {_names(self.down_from)} ({self.quorum.text})")
            if self.disagreeing:
                parts.append(f"up from {_names(self.disagreeing)}")
        elif self.status == "degraded":
            slow = [*self.down_from, *self.degraded_from]
            parts.append(f"degraded from {_names(slow)} ({self.quorum.text})")
        elif self.down_from or self.degraded_from:
            failing = [*self.down_from, *self.degraded_from]
            verb = "down" if self.down_from else "degraded"
            only = " only" if len(failing) < self.quorum.needed else ""
            parts.append(f"{verb} from {_names(failing)}{only}")
        else:
            parts.append(f"up from {_names(self.up_from)}" if self.up_from else "no location reports")
        if self.silent:
            parts.append(f"{_names(self.silent)} not reporting")
        return "; ".join(parts)


def _names(locations: Sequence[str]) -> str:
    return ", ".join(locations)


def is_fresh(report: Report | None, now: datetime, fresh_for: timedelta) -> bool:
    return report is not None and now - report.ts <= fresh_for


def verdict(
    locations: Sequence[str], quorum: Quorum, latest: Mapping[str, Report | None], now: datetime,
    fresh_for: timedelta,
) -> Verdict:
    """The check's combined state at `now` from each location's newest result (see the module doc)."""
    by_status: dict[str, list[str]] = {"down": [], "degraded": [], "up": []}
    silent: list[str] = []
    latencies: list[float] = []
    for location in locations:
        report = latest.get(location)
        if report is None or not is_fresh(report, now, fresh_for):
            silent.append(location)
            continue
        by_status.get(report.status, by_status["down"]).append(location)
        if report.latency_ms is not None:
            latencies.append(report.latency_ms)
    down = len(by_status["down"])
    if down >= quorum.needed:
        status = "down"
    elif down + len(by_status["degraded"]) >= quorum.needed:
        status = "degraded"
    else:
        status = "up"
    return Verdict(
        status, tuple(by_status["down"]), tuple(by_status["degraded"]), tuple(by_status["up"]),
        tuple(silent), quorum, statistics.median(latencies) if latencies else None,
    )


def pacer(locations: Sequence[str], latest: Mapping[str, Report | None], now: datetime,
          fresh_for: timedelta) -> str | None:
    """The location whose results give the check its verdict once per interval: the first one listed that
    is reporting (so the check's results keep the pace of one location, and a silent one hands over)."""
    for location in locations:
        if is_fresh(latest.get(location), now, fresh_for):
            return location
    return None


def fresh_for(interval: timedelta, timeout: timedelta) -> timedelta:
    """How old a location's newest result may be and still count: about two intervals."""
    return 2 * interval + timeout
