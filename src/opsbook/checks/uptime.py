"""Exact uptime over any period, from the state-change log (not from sampled results).

The time a check spent in each state inside [start, end) is summed from its changes; time before its
first known state is unknown and left out. Degraded counts as up: the service answered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opsbook.checks.models import StateChangeRow


@dataclass(frozen=True)
class Uptime:
    up_seconds: float
    down_seconds: float

    @property
    def known_seconds(self) -> float:
        return self.up_seconds + self.down_seconds

    @property
    def ratio(self) -> float | None:
        return self.up_seconds / self.known_seconds if self.known_seconds else None

    @property
    def percent(self) -> float | None:
        return None if self.ratio is None else round(self.ratio * 100, 4)


def uptime_from_changes(
    changes: Sequence[tuple[datetime, str]], start: datetime, end: datetime, state_before: str | None
) -> Uptime:
    """Pure: `changes` are (ts, new status) in [start, end), in time order; `state_before` holds at start."""
    up = down = 0.0
    state, since = state_before, start
    for ts, status in [*changes, (end, "")]:
        if state is not None:
            span = (ts - since).total_seconds()
            if state == "down":
                down += span
            else:
                up += span
        state, since = (status or state), ts
    return Uptime(up, down)


@dataclass(frozen=True)
class StateHistory:
    """One check's state at a period's start (None: not known yet) and its changes after, in time order."""

    before: str | None
    changes: Sequence[tuple[datetime, str]]


def state_histories(
    session: Session, check_ids: Sequence[str], start: datetime, end: datetime
) -> dict[str, StateHistory]:
    """Each check's state at `start` and its changes in (start, end): two queries for all of them, the
    first reading only each check's last change by `start` (the status page, the SLOs and every uptime
    figure read the log through here)."""
    befores: dict[str, str] = {}
    inside: dict[str, list[tuple[datetime, str]]] = {c: [] for c in check_ids}
    if not check_ids:
        return {}
    last = (
        select(StateChangeRow.check_id, func.max(StateChangeRow.ts).label("ts"))
        .where(StateChangeRow.check_id.in_(check_ids), StateChangeRow.ts <= start)
        .group_by(StateChangeRow.check_id)
        .subquery()
    )
    for check_id, status in session.execute(
        select(StateChangeRow.check_id, StateChangeRow.to_status)
        .join(last, (StateChangeRow.check_id == last.c.check_id) & (StateChangeRow.ts == last.c.ts))
        .order_by(StateChangeRow.id)
    ):
        befores[check_id] = status  # each check's last change by `start` (the last written, if two tie)
    for check_id, ts, status in session.execute(
        select(StateChangeRow.check_id, StateChangeRow.ts, StateChangeRow.to_status)
        .where(StateChangeRow.check_id.in_(check_ids), StateChangeRow.ts > start, StateChangeRow.ts < end)
        .order_by(StateChangeRow.ts, StateChangeRow.id)
    ):
        inside[check_id].append((ts, status))
    return {c: StateHistory(befores.get(c), inside[c]) for c in check_ids}


def uptime_many(
    session: Session, check_ids: Sequence[str], start: datetime, end: datetime
) -> dict[str, Uptime]:
    """Uptime of many checks with two queries in all (for status tables and pages)."""
    return {
        c: uptime_from_changes(h.changes, start, end, h.before)
        for c, h in state_histories(session, check_ids, start, end).items()
    }


def uptime(session: Session, check_id: str, start: datetime, end: datetime) -> Uptime:
    return uptime_many(session, [check_id], start, end)[check_id]
