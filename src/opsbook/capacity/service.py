"""Capacity use cases: the table (current, capacity, utilisation, trend, dates, action), one resource's
history and forecast, and what the pipeline needs (the hour rollups, the history of forecast rules).

Reading needs the viewer role; the rollup is the pipeline's own duty (`roll_up_values`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from opsbook.auth.roles import Principal, Role
from opsbook.capacity import rollup
from opsbook.capacity.config import Resource
from opsbook.capacity.forecast import NoTrend, Trend, fit
from opsbook.checks import store
from opsbook.errors import NotFound
from opsbook.rules.expr import Operand
from opsbook.rules.forecast import History, HistoryReader
from opsbook.runtime import Runtime
from opsbook.usecase import transaction

RECENT = 50
"""Newest results of a check searched for a resource's current value."""


class ResourceNotFound(NotFound):
    pass


@dataclass(frozen=True)
class Crossing:
    """When the trend reaches one level of the plan (or the capacity)."""

    level: float
    action: str
    when: datetime | None  # None: not reached on this trend


@dataclass(frozen=True)
class ResourceView:
    """One row of the capacity table."""

    resource: Resource
    current: float | None
    current_at: datetime | None
    trend: Trend | NoTrend
    crossings: list[Crossing] = field(default_factory=list)

    @property
    def utilisation(self) -> float | None:
        return None if self.current is None else 100.0 * self.current / self.resource.capacity

    @property
    def next_crossing(self) -> Crossing | None:
        """The first plan level not yet reached that the trend reaches, else the highest passed one."""
        ahead = [c for c in self.crossings if c.when is not None]
        return min(ahead, key=lambda c: (c.when, c.level)) if ahead else None

    @property
    def action(self) -> str:
        """The plan's action for the current value (highest level passed), else for the next level."""
        if self.current is not None:
            passed = [step for step in self.resource.plan if self.current >= step.at]
            if passed:
                return passed[-1].action
        upcoming = self.next_crossing
        if upcoming is not None:
            return upcoming.action
        first = self.resource.plan[0] if self.resource.plan else None
        return f"at {first.at:g}{self.resource.unit}: {first.action}" if first else ""


@dataclass(frozen=True)
class ResourceHistory:
    view: ResourceView
    points: list[tuple[datetime, float]]


# --- use cases (reads) ------------------------------------------------------------------------------


def capacity_table(runtime: Runtime, actor: Principal) -> list[ResourceView]:
    """Every resource of the capacity table, with its current value, trend and dates."""
    with transaction(runtime, actor, needs=Role.VIEWER) as tx:
        return [_view(tx.session, runtime, r, tx.now)[0] for r in runtime.config.capacity.resources]


def resource_history(runtime: Runtime, actor: Principal, name: str) -> ResourceHistory:
    """One resource's hourly history (over the forecast history) with its table row."""
    with transaction(runtime, actor, needs=Role.VIEWER) as tx:
        view, points = _view(tx.session, runtime, find_resource(runtime, name), tx.now)
        return ResourceHistory(view, points)


def find_resource(runtime: Runtime, name: str) -> Resource:
    for resource in runtime.config.capacity.resources:
        if resource.name == name:
            return resource
    known = ", ".join(r.name for r in runtime.config.capacity.resources) or "none"
    raise ResourceNotFound(f"no capacity resource {name!r} (known: {known})")


def _view(
    session: Session, runtime: Runtime, resource: Resource, now: datetime
) -> tuple[ResourceView, list[tuple[datetime, float]]]:
    settings = runtime.config.capacity
    points = rollup.hourly_means(session, resource.check, resource.value, now - settings.history, now)
    trend = fit(points, now, settings.history, settings.min_history)
    current, current_at = latest_value(session, resource.check, resource.value)
    levels = [(step.at, step.action) for step in resource.plan]
    if resource.capacity not in {at for at, _ in levels}:
        levels.append((resource.capacity, "capacity reached"))
    crossings = [
        Crossing(at, action, trend.reaches(at) if isinstance(trend, Trend) else None) for at, action in levels
    ]
    return ResourceView(resource, current, current_at, trend, crossings), points


def latest_value(session: Session, check_id: str, name: str) -> tuple[float | None, datetime | None]:
    for ts, values in store.newest_values(session, check_id, RECENT):
        value = (values or {}).get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value), ts
    return None, None


# --- for the pipeline -------------------------------------------------------------------------------


def roll_up_values(runtime: Runtime, tracked: rollup.Tracked) -> datetime | None:
    """Roll the closed hours of the tracked values up (the pipeline's housekeeping; no actor)."""
    with runtime.sessions.begin() as session:
        now = runtime.clock.now()
        until = rollup.roll_up(session, tracked, now, runtime.config.retention.raw)
        rollup.prune(session, now - runtime.config.retention.hour_rollups)
        return until


def history_reader(runtime: Runtime) -> HistoryReader:
    """What the alert engine calls for a `days_until(...)` rule: the value's hourly means and its plan."""

    def read(session: Session, check_id: str, operand: Operand, now: datetime) -> History:
        config = runtime.config
        settings = config.capacity
        points = rollup.hourly_means(session, check_id, operand.field, now - settings.history, now)
        resource = next(
            (r for r in settings.resources if r.check == check_id and r.value == operand.field), None
        )
        return History(
            points=points, history=settings.history, min_history=settings.min_history,
            label=resource.label() if resource else "", unit=resource.unit if resource else "",
            actions=resource.actions() if resource else {}, timezone=config.timezone,
        )

    return read


def fitted_line(view: ResourceView, points: Sequence[tuple[datetime, float]], ahead: timedelta) -> list[
    tuple[datetime, float]
]:
    """Two points of the trend line: from the oldest point to `ahead` past now (for charts)."""
    trend = view.trend
    if not isinstance(trend, Trend) or not points:
        return []
    end = trend.at + ahead
    return [(points[0][0], trend.value_at(points[0][0])), (end, trend.value_at(end))]
