"""Hour rollups of the measured values that are forecast: count, sum, min and max per check, value, hour.

The check rollups (opsbook.checks.rollup) keep latencies, not measured values; the values a capacity
resource names, or a `days_until(...)` rule forecasts, are rolled up here from the raw results (kept for
`retention.raw`, 48 h by default) once their hour is closed, behind a watermark advanced in the same
transaction. Only those values are kept, so the cost follows the capacity table, not every check.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from opsbook.capacity.models import ValueHourRow
from opsbook.checks import store
from opsbook.checks.models import MetaRow
from opsbook.checks.rollup import HOUR, floor

if TYPE_CHECKING:
    from opsbook.config.schema import OpsbookConfig

WATERMARK_KEY = "capacity.hour_until"
LAG = timedelta(minutes=5)
"""An hour is rolled up this long after it ends, once results of slow checks have landed."""
CHUNK = timedelta(hours=6)

Tracked = dict[str, set[str]]
"""check id → the value names rolled up for it."""


def tracked_values(config: OpsbookConfig) -> Tracked:
    """The values to roll up: every capacity resource's, and every forecast rule's."""
    from opsbook.rules.ruleset import compile_rules

    found: Tracked = defaultdict(set)
    for resource in config.capacity.resources:
        found[resource.check].add(resource.value)
    for check_id, specs in compile_rules(config).items():
        for spec in specs:
            if spec.expr.operand.kind == "forecast":
                found[check_id].add(spec.expr.operand.field)
    return dict(found)


def roll_up(session: Session, tracked: Tracked, now: datetime, first: timedelta) -> datetime | None:
    """Roll up every closed hour since the watermark (at most `first` back on the first run); returns
    the new watermark (None when there is nothing to track)."""
    if not tracked:
        return None
    end = floor(now - LAG, HOUR)
    meta = session.get(MetaRow, WATERMARK_KEY)
    start = datetime.fromisoformat(meta.value) if meta else floor(now - first, HOUR)
    start = max(start, floor(now - first, HOUR))
    while start < end:
        stop = min(start + CHUNK, end)
        _roll(session, tracked, start, stop)
        start = stop
    if meta is None:
        session.add(MetaRow(key=WATERMARK_KEY, value=end.isoformat()))
    elif datetime.fromisoformat(meta.value) < end:
        meta.value = end.isoformat()
    return end


def _roll(session: Session, tracked: Tracked, start: datetime, stop: datetime) -> None:
    sums: dict[tuple[str, str, datetime], list[float]] = {}
    for check_id, ts, values in store.measured_values(session, sorted(tracked), start, stop):
        for name in tracked.get(check_id, ()):
            value = (values or {}).get(name)
            if isinstance(value, int | float) and not isinstance(value, bool):
                agg = sums.setdefault((check_id, name, floor(ts, HOUR)), [0, 0.0, value, value])
                agg[0] += 1
                agg[1] += value
                agg[2] = min(agg[2], value)
                agg[3] = max(agg[3], value)
    for (check_id, name, bucket), (count, total, low, high) in sums.items():
        row = session.get(ValueHourRow, (check_id, name, bucket))
        if row is None:
            session.add(ValueHourRow(check_id=check_id, field=name, bucket=bucket, count=int(count),
                                     total=total, low=low, high=high))
        else:
            row.count += int(count)
            row.total += total
            row.low = min(row.low, low)
            row.high = max(row.high, high)


def hourly_means(
    session: Session, check_id: str, field: str, since: datetime, until: datetime
) -> list[tuple[datetime, float]]:
    """The value's mean per hour in [since, until], oldest first (time: the middle of the hour)."""
    rows: Iterable[ValueHourRow] = session.scalars(
        select(ValueHourRow)
        .where(ValueHourRow.check_id == check_id, ValueHourRow.field == field,
               ValueHourRow.bucket >= floor(since, HOUR), ValueHourRow.bucket <= until)
        .order_by(ValueHourRow.bucket)
    )
    half = timedelta(seconds=HOUR / 2)
    return [(row.bucket + half, row.mean) for row in rows if row.count]


def prune(session: Session, older_than: datetime) -> None:
    session.execute(delete(ValueHourRow).where(ValueHourRow.bucket < older_than))
