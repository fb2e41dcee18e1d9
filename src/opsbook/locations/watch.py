"""The location watch: an alert on opsbook when a location stops reporting, cleared when it is back.

A location stops reporting when no worker of it is alive (no heartbeat within the cluster lease) or
none of its probes has a fresh result (within about two intervals: opsbook.locations.quorum.fresh_for).
Its checks do not look down meanwhile (a silent location votes neither way); the alert
`location-silent:<name>` says which it is. A singleton duty on PostgreSQL (only there do locations run);
it waits one freshness bound after it starts before it calls a location silent, so workers starting
together are not reported missing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opsbook.alerts.selfalert import clear_self_alert, raise_self_alert
from opsbook.alerts.types import AlertTransition
from opsbook.checks.models import CheckStateRow
from opsbook.cluster.leases import live_since
from opsbook.cluster.models import ClusterMemberRow
from opsbook.locations.quorum import fresh_for
from opsbook.locations.units import all_locations, located, locations_of, unit_id
from opsbook.loops import Loop, Looped, Supervisor
from opsbook.rules.severity import Severity
from opsbook.runtime import Runtime
from opsbook.timefmt import show_time
from opsbook.words import count

Hooks = Callable[[Session, Sequence[AlertTransition], datetime], None]
MIN_EVERY = timedelta(seconds=1)
MAX_EVERY = timedelta(seconds=30)


def alert_key(location: str) -> str:
    return f"location-silent:{location}"


@dataclass(frozen=True)
class LocationHealth:
    location: str
    workers: int  # alive now
    newest: datetime | None  # its newest result of any check
    fresh: bool  # some check of it has a fresh result

    @property
    def reporting(self) -> bool:
        return self.workers > 0 and self.fresh


def assess(
    session: Session, checks: Mapping[str, Any], lease: timedelta, now: datetime
) -> list[LocationHealth]:
    """Each location's live workers and whether it reports (one query each for workers and results)."""
    places = all_locations(checks)
    alive = dict(session.execute(
        select(ClusterMemberRow.location, func.count())
        .where(ClusterMemberRow.location.in_(places), ClusterMemberRow.roles.contains("worker"),
               ClusterMemberRow.stopped_at.is_(None), ClusterMemberRow.heartbeat_at > live_since(lease))
        .group_by(ClusterMemberRow.location)
    ).all())
    bounds = {unit_id(cid, loc): (loc, fresh_for(spec.interval, spec.timeout))
              for cid, spec in located(checks).items() for loc in locations_of(spec)}
    newest: dict[str, datetime] = {}
    fresh: set[str] = set()
    for unit, last_ts in session.execute(
        select(CheckStateRow.check_id, CheckStateRow.last_ts)
        .where(CheckStateRow.check_id.in_(sorted(bounds)))
    ):
        if last_ts is None:
            continue
        location, bound = bounds[unit]
        newest[location] = max(newest.get(location, last_ts), last_ts)
        if now - last_ts <= bound:
            fresh.add(location)
    return [LocationHealth(p, int(alive.get(p, 0)), newest.get(p), p in fresh) for p in places]


def silent_summary(health: LocationHealth, zone: str) -> str:
    name = health.location
    heard = "no result yet"
    if health.newest is not None:
        heard = f"its last result {show_time(health.newest, zone, seconds=True)}"
    if health.workers == 0:
        return f"location {name} stopped reporting: no worker of {name} is alive ({heard})"
    return (f"location {name} stopped reporting: {count(health.workers, 'worker')} alive but no fresh "
            f"result ({heard}); its checks are judged by the other locations")


class LocationWatch(Looped):
    def __init__(self, runtime: Runtime, hooks: Hooks, supervisor: Supervisor | None = None) -> None:
        self.runtime = runtime
        self.hooks = hooks
        self.checks = located(runtime.config.checks())
        bounds = [fresh_for(s.interval, s.timeout) for s in self.checks.values()]
        self.grace = max(bounds, default=MIN_EVERY)
        every = min((s.interval for s in self.checks.values()), default=MAX_EVERY)
        self.every = min(max(every, MIN_EVERY), MAX_EVERY)
        self.started: datetime | None = None
        self.silent: dict[str, bool] = {}  # what this process last told the alert table
        self.loop = Loop("locations", self.step, runtime.clock, supervisor=supervisor)

    @property
    def active(self) -> bool:
        return bool(self.checks) and self.runtime.engine.dialect.name == "postgresql"

    async def step(self) -> datetime | None:
        if not self.active:
            return None
        return await asyncio.to_thread(self.sync)

    def sync(self) -> datetime:
        now = self.runtime.clock.now()
        if self.started is None:
            self.started = now
        settled = now - self.started >= self.grace
        zone = self.runtime.config.timezone
        with self.runtime.sessions.begin() as session:
            for health in assess(session, self.checks, self.runtime.config.cluster.lease, now):
                silent = not health.reporting
                if silent and not settled:
                    continue
                if self.silent.get(health.location) == silent:
                    continue
                key = alert_key(health.location)
                if silent:
                    moved = raise_self_alert(session, key, silent_summary(health, zone), Severity.P1, now)
                else:
                    moved = clear_self_alert(session, key, now, f"location {health.location} reports again")
                self.hooks(session, moved, now)
                self.silent[health.location] = silent
        return now + self.every
