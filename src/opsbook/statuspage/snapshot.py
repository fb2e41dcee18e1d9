"""What the status page shows, as plain data, and the pure rules that decide it.

A `Snapshot` holds only what may be shown to the public: public services by name and description, their
state, daily uptime, public incidents and maintenance of public services. Check names and messages are
never copied into it, so nothing rendered from it can leak them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from opsbook.checks.uptime import Uptime, uptime_from_changes


class PublicState(StrEnum):
    OPERATIONAL = "operational"
    DEGRADED = "degraded"
    PARTIAL_OUTAGE = "partial_outage"
    MAJOR_OUTAGE = "major_outage"
    MAINTENANCE = "maintenance"

    @property
    def label(self) -> str:
        return {
            "operational": "Operational",
            "degraded": "Degraded performance",
            "partial_outage": "Partial outage",
            "major_outage": "Major outage",
            "maintenance": "Under maintenance",
        }[self.value]

    @property
    def weight(self) -> int:
        order = ["operational", "maintenance", "degraded", "partial_outage", "major_outage"]
        return order.index(self.value)


INCIDENT_IMPACT = {"P0": PublicState.MAJOR_OUTAGE, "P1": PublicState.PARTIAL_OUTAGE}
"""An open public incident of these severities raises its services' state at least this far; any other
severity raises it to degraded."""


def service_state(
    check_statuses: Sequence[str | None], in_maintenance: bool, incident_severities: Sequence[str] = ()
) -> PublicState:
    """A public service's state from its checks (up/degraded/down/None), maintenance and open incidents.

    Every known check down is a major outage, some down a partial outage, any degraded is degraded.
    Maintenance wins over what the checks say (they are expected to fail then)."""
    if in_maintenance:
        return PublicState.MAINTENANCE
    known = [s for s in check_statuses if s is not None]
    down = sum(1 for s in known if s == "down")
    state = PublicState.OPERATIONAL
    if known and down == len(known):
        state = PublicState.MAJOR_OUTAGE
    elif down:
        state = PublicState.PARTIAL_OUTAGE
    elif "degraded" in known:
        state = PublicState.DEGRADED
    for severity in incident_severities:
        floor = INCIDENT_IMPACT.get(severity.upper(), PublicState.DEGRADED)
        if floor.weight > state.weight:
            state = floor
    return state


def overall(states: Iterable[PublicState]) -> tuple[PublicState, str]:
    """The banner: the worst state and its sentence."""
    found = list(states)
    if not found:
        return PublicState.OPERATIONAL, "All systems operational"
    worst = max(found, key=lambda s: s.weight)
    sentence = {
        PublicState.OPERATIONAL: "All systems operational",
        PublicState.MAINTENANCE: "Scheduled maintenance in progress",
        PublicState.DEGRADED: "Some systems degraded",
        PublicState.PARTIAL_OUTAGE: "Partial outage",
        PublicState.MAJOR_OUTAGE: "Major outage",
    }[worst]
    return worst, sentence


@dataclass(frozen=True)
class DayBar:
    day: date
    uptime_percent: float | None  # None: no data that day
    down_seconds: float

    @property
    def level(self) -> str:
        """The colour class of the bar."""
        p = self.uptime_percent
        if p is None:
            return "no_data"
        if p >= 99.9:
            return "operational"
        if p >= 99.0:
            return "degraded"
        if p >= 95.0:
            return "partial_outage"
        return "major_outage"


def day_starts(now: datetime, days: int, timezone: str) -> list[datetime]:
    """Midnights (in `timezone`, as aware datetimes) of the last `days` days, oldest first, today last."""
    zone = ZoneInfo(timezone)
    today = now.astimezone(zone).date()
    out = []
    for back in range(days - 1, -1, -1):
        d = today - timedelta(days=back)
        out.append(datetime(d.year, d.month, d.day, tzinfo=zone))
    return out


_NONE = Uptime(0.0, 0.0)


def daily_uptime(
    changes: Sequence[tuple[datetime, str]], before: str | None, starts: Sequence[datetime], now: datetime
) -> list[Uptime]:
    """One check's uptime per day: `changes` (ts, status) in time order from starts[0], `before` the state
    holding at starts[0]; the last day ends at `now`."""
    out: list[Uptime] = []
    state = before
    if not changes:  # the common case: one state all along (or none known)
        for n, start in enumerate(starts):
            span = max(((starts[n + 1] if n + 1 < len(starts) else now) - start).total_seconds(), 0.0)
            if state is None:
                out.append(_NONE)
            else:
                out.append(Uptime(0.0, span) if state == "down" else Uptime(span, 0.0))
        return out
    i = 0
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else now
        inside: list[tuple[datetime, str]] = []
        while i < len(changes) and changes[i][0] < end:
            if changes[i][0] <= start:
                state = changes[i][1]
            else:
                inside.append(changes[i])
            i += 1
        out.append(uptime_from_changes(inside, start, max(end, start), state))
        if inside:
            state = inside[-1][1]
    return out


def merge_days(per_check: Sequence[Sequence[Uptime]], starts: Sequence[datetime]) -> list[DayBar]:
    """A service's bars: each day's up and known seconds summed over its checks."""
    bars = []
    for n, start in enumerate(starts):
        up = sum(days[n].up_seconds for days in per_check)
        down = sum(days[n].down_seconds for days in per_check)
        known = up + down
        bars.append(DayBar(start.date(), round(100 * up / known, 3) if known else None, down))
    return bars


def period_percent(per_check: Sequence[Sequence[Uptime]]) -> float | None:
    """Uptime over the whole period, summed over a service's checks."""
    up = sum(u.up_seconds for days in per_check for u in days)
    known = sum(u.known_seconds for days in per_check for u in days)
    return round(100 * up / known, 3) if known else None


@dataclass(frozen=True)
class PublicService:
    name: str
    description: str
    state: PublicState
    uptime_percent: float | None
    bars: list[DayBar]


@dataclass(frozen=True)
class PublicUpdate:
    ts: datetime
    status: str
    text: str


@dataclass(frozen=True)
class PublicIncident:
    id: str
    title: str
    severity: str
    status: str  # investigating / identified / monitoring / resolved, or the incident's own state
    started_at: datetime
    resolved_at: datetime | None
    services: list[str]
    updates: list[PublicUpdate] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.resolved_at is None


@dataclass(frozen=True)
class PublicMaintenance:
    title: str
    description: str
    services: list[str]
    starts_at: datetime
    ends_at: datetime
    in_progress: bool


@dataclass(frozen=True)
class Snapshot:
    title: str
    description: str
    logo_url: str | None
    built_at: datetime
    state: PublicState
    sentence: str
    services: list[PublicService]
    active_incidents: list[PublicIncident]
    past_incidents: list[PublicIncident]
    maintenance: list[PublicMaintenance]
    history_days: int
    version: int = 0  # bumped when anything shown changes (ETag)

    def to_json(self) -> dict[str, Any]:
        def conv(value: Any) -> Any:
            if isinstance(value, datetime | date):
                return value.isoformat()
            if isinstance(value, dict):
                return {k: conv(v) for k, v in value.items()}
            if isinstance(value, list):
                return [conv(v) for v in value]
            return value

        data = conv(asdict(self))
        for service, raw in zip(data["services"], self.services, strict=True):
            service["state_label"] = raw.state.label
            for bar, raw_bar in zip(service["bars"], raw.bars, strict=True):
                bar["level"] = raw_bar.level
        data.pop("version", None)
        return {"page": {"title": data.pop("title"), "description": data.pop("description"),
                         "logo_url": data.pop("logo_url")}, **data}
