"""What the status page shows, as plain data, and the pure rules that decide it.

A `Snapshot` holds only what may be shown to the public: public services by name and description, their
state, daily uptime, public incidents and maintenance of public services. Check names and messages are
never copied into it, so nothing rendered from it can leak them.

One vocabulary: `PublicState.label` is the only wording of a state. A service's label, the banner
(`overall`: "Major outage: api") and the generic name of an incident nobody published (`incident_named`:
"Major outage: api") all come from it, and an incident's severity maps to a state in one place
(`incident_state`), so the page never calls one thing by two names.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from opsbook.checks.uptime import Uptime, uptime_from_changes
from opsbook.statuspage.figures import uptime_text


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


def incident_state(severity: str) -> PublicState:
    """The state an incident of `severity` means for the services it affects."""
    return INCIDENT_IMPACT.get(severity.upper(), PublicState.DEGRADED)


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
        floor = incident_state(severity)
        if floor.weight > state.weight:
            state = floor
    return state


def overall(states: Iterable[tuple[str, PublicState]]) -> tuple[PublicState, str]:
    """The banner from each service's (name, state): the worst state and its label, naming the services in
    it ("Major outage: api"); "All systems operational" when all are."""
    found = list(states)
    worst = max((state for _, state in found), key=lambda s: s.weight, default=PublicState.OPERATIONAL)
    if worst is PublicState.OPERATIONAL:
        return worst, "All systems operational"
    return worst, f"{worst.label}: {', '.join(name for name, state in found if state is worst)}"


@dataclass(frozen=True)
class DayBar:
    day: date
    uptime_percent: float | None  # None: no data that day
    down_seconds: float
    uptime_text: str = "no data"  # as people read it: "99.98%" (figures.uptime_text)

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
        bars.append(DayBar(start.date(), round(100 * up / known, 4) if known else None, down,
                           uptime_text(up, known)))
    return bars


def period_uptime(per_check: Sequence[Sequence[Uptime]]) -> Uptime:
    """Up and down time over the whole period, summed over a service's checks (only while watched)."""
    return Uptime(sum(u.up_seconds for days in per_check for u in days),
                  sum(u.down_seconds for days in per_check for u in days))


def watched_since(
    befores: Sequence[str | None], changes: Sequence[Sequence[tuple[datetime, str]]], timezone: str
) -> date | None:
    """The day (in `timezone`) a service was first watched inside the period: None if a check of it had a
    state at its start (watched all along) or nothing is known; else the day of its first state change."""
    if any(before is not None for before in befores):
        return None
    firsts = [found[0][0] for found in changes if found]
    return min(firsts).astimezone(ZoneInfo(timezone)).date() if firsts else None


@dataclass(frozen=True)
class PublicObjective:
    """A public service's availability objective: its uptime over the SLO's window against the target."""

    window: str  # "30 days"
    uptime_text: str  # as people read it: "99.95%" (figures.uptime_text), or "no data"
    target: str  # "99.9%"
    met: bool | None  # None: nothing known over the window


@dataclass(frozen=True)
class PublicService:
    name: str
    description: str
    state: PublicState
    uptime_percent: float | None
    bars: list[DayBar]
    uptime_text: str = "no data"  # over the period, from `watched_since` if the service is younger
    watched_since: date | None = None  # first watched inside the period (team's zone); None: all along
    objective: PublicObjective | None = None  # its SLO's uptime against the target (slos: in opsbook.yaml)


@dataclass(frozen=True)
class PublicUpdate:
    ts: datetime
    status: str
    text: str
    edited: bool = False  # its text was corrected after it was posted


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
    state: PublicState = PublicState.DEGRADED  # what it means for its services, in the page's words
    published: bool = False  # a responder published it: `title` is its public title
    cause: str = ""  # the public service whose outage it is, when others fail because they depend on it

    @property
    def active(self) -> bool:
        return self.resolved_at is None

    @property
    def affected(self) -> list[str]:
        """The services it affects besides its cause."""
        return [s for s in self.services if s != self.cause]


def incident_named(incident: PublicIncident, states: dict[str, PublicState]) -> PublicIncident:
    """The incident with the state it shows in: an open one the worst state of its services now (the
    state the services and the banner show), a past one its severity's; unpublished, it is named by it."""
    state = incident_state(incident.severity)
    if incident.active:
        state = max([state, *(states[s] for s in incident.services if s in states)], key=lambda s: s.weight)
    named = incident.cause or ", ".join(incident.services)  # a cause is named alone, its dependents under it
    title = incident.title if incident.published else f"{state.label}: {named}"
    return replace(incident, state=state, title=title)


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
        for incident, raw_incident in zip(data["active_incidents"] + data["past_incidents"],
                                          self.active_incidents + self.past_incidents, strict=True):
            incident["state_label"] = raw_incident.state.label
        for service, raw in zip(data["services"], self.services, strict=True):
            service["state_label"] = raw.state.label
            for bar, raw_bar in zip(service["bars"], raw.bars, strict=True):
                bar["level"] = raw_bar.level
        data.pop("version", None)
        return {"page": {"title": data.pop("title"), "description": data.pop("description"),
                         "logo_url": data.pop("logo_url")}, **data}
