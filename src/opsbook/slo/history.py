"""What the objectives are computed from, read from the store: the SLO checks' state changes (the exact
log `checks.store` writes) and the service's maintenance (recurring windows of the config naming it,
one-off windows not cancelled before they began)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.checks.models import StateChangeRow
from opsbook.config.schema import OpsbookConfig
from opsbook.silences.models import MaintenanceRow
from opsbook.silences.windows import occurrences_between
from opsbook.slo.config import SloConfig
from opsbook.slo.timeline import CheckHistory, Spans, micros, union


def slo_checks(config: OpsbookConfig, slo: SloConfig) -> list[str]:
    """The check ids that decide whether the service is up: those named, else all its enabled checks."""
    service = next(s for s in config.services if s.name == slo.service)
    names = slo.checks or [c.name for c in service.checks if c.enabled]
    return [f"{slo.service}/{name}" for name in names]


def histories(
    session: Session, check_ids: Sequence[str], start: datetime, end: datetime
) -> list[CheckHistory]:
    """Each check's state at `start` and its changes in (start, end), two queries for all of them."""
    if not check_ids:
        return []
    befores: dict[str, str] = {}
    for check_id, status in session.execute(
        select(StateChangeRow.check_id, StateChangeRow.to_status)
        .where(StateChangeRow.check_id.in_(check_ids), StateChangeRow.ts <= start)
        .order_by(StateChangeRow.ts, StateChangeRow.id)
    ):
        befores[check_id] = status  # ascending: the last one before start wins
    inside: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for check_id, ts, status in session.execute(
        select(StateChangeRow.check_id, StateChangeRow.ts, StateChangeRow.to_status)
        .where(StateChangeRow.check_id.in_(check_ids), StateChangeRow.ts > start, StateChangeRow.ts < end)
        .order_by(StateChangeRow.ts, StateChangeRow.id)
    ):
        inside[check_id].append((ts, status))
    return [CheckHistory(befores.get(c), inside[c]) for c in check_ids]


def maintenance(
    session: Session, config: OpsbookConfig, service: str, start: datetime, end: datetime
) -> Spans:
    """The service's maintenance overlapping [start, end): recurring windows listing it in `services`, and
    one-off windows naming it (a cancelled one up to its cancellation)."""
    found: list[tuple[int, int]] = []
    for window in config.maintenance_windows:
        if service in window.services:
            found += [
                (micros(o.start), micros(o.end)) for o in occurrences_between(window.to_window(), start, end)
            ]
    rows = session.scalars(
        select(MaintenanceRow).where(MaintenanceRow.starts_at < end, MaintenanceRow.ends_at > start)
    )
    for row in rows:
        stop = row.ends_at if row.cancelled_at is None else min(row.ends_at, row.cancelled_at)
        if service in row.services and stop > row.starts_at:
            found.append((micros(row.starts_at), micros(stop)))
    return union(found)
