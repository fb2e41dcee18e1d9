"""Per-minute and per-hour rollups of raw results: count, failures, latency sum/min/max and histogram.

Minutes are rolled up once they are closed (behind a watermark kept in the database, advanced in the
same transaction as the rollup rows); hours are merged from the same results. A result that arrives
for a minute already rolled up is merged straight away by the writer, so rollups never miss one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.checks import histogram
from opsbook.checks.models import MetaRow, ResultRow, RollupRow
from opsbook.checks.result import StoredResult

MINUTE = 60
HOUR = 3600
WATERMARK_KEY = "rollup.minute_until"
CHUNK = timedelta(hours=1)
CHUNK_IDS = 500


@dataclass
class Agg:
    count: int = 0
    failures: int = 0
    degraded: int = 0
    latency_count: int = 0
    latency_sum: float = 0.0
    latency_min: float | None = None
    latency_max: float | None = None
    hist: list[int] = field(default_factory=histogram.empty)

    def add(self, status: str, latency_ms: float | None) -> None:
        self.count += 1
        if status == "down":
            self.failures += 1
        elif status == "degraded":
            self.degraded += 1
        if latency_ms is not None:
            self.latency_count += 1
            self.latency_sum += latency_ms
            self.latency_min = latency_ms if self.latency_min is None else min(self.latency_min, latency_ms)
            self.latency_max = latency_ms if self.latency_max is None else max(self.latency_max, latency_ms)
            self.hist[histogram.bucket_of(latency_ms)] += 1

    def into(self, row: RollupRow) -> None:
        row.count = (row.count or 0) + self.count
        row.failures = (row.failures or 0) + self.failures
        row.degraded = (row.degraded or 0) + self.degraded
        row.latency_count = (row.latency_count or 0) + self.latency_count
        row.latency_sum = (row.latency_sum or 0.0) + self.latency_sum
        row.latency_min = _opt(min, row.latency_min, self.latency_min)
        row.latency_max = _opt(max, row.latency_max, self.latency_max)
        row.histogram = histogram.sparse(histogram.merge(histogram.dense(row.histogram), self.hist))


def _opt(fn: Callable[[float, float], float], a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return float(fn(a, b))


def floor(ts: datetime, seconds: int) -> datetime:
    epoch = int(ts.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, UTC)


def get_watermark(session: Session) -> datetime | None:
    value = session.get(MetaRow, WATERMARK_KEY)
    return datetime.fromisoformat(value.value) if value else None


def _set_watermark(session: Session, until: datetime) -> None:
    row = session.get(MetaRow, WATERMARK_KEY)
    if row is None:
        session.add(MetaRow(key=WATERMARK_KEY, value=until.isoformat()))
    else:
        row.value = until.isoformat()


def _merge(session: Session, resolution: int, aggs: dict[tuple[str, datetime], Agg]) -> None:
    """Add `aggs` into the rollup rows of their (check, bucket), creating the missing ones.

    Existing rows are read by check id (500 per query) and bucket range, not by a list of (check, bucket)
    pairs: an hour of 5,000 checks is 300,000 pairs, more than PostgreSQL parses in one statement."""
    if not aggs:
        return
    buckets = [bucket for _, bucket in aggs]
    lo, hi = min(buckets), max(buckets)
    ids = sorted({check_id for check_id, _ in aggs})
    existing: dict[tuple[str, datetime], RollupRow] = {}
    for i in range(0, len(ids), CHUNK_IDS):
        rows = session.scalars(
            select(RollupRow).where(
                RollupRow.resolution == resolution,
                RollupRow.bucket >= lo,
                RollupRow.bucket <= hi,
                RollupRow.check_id.in_(ids[i : i + CHUNK_IDS]),
            )
        )
        existing.update({(r.check_id, r.bucket): r for r in rows})
    for key, agg in aggs.items():
        row = existing.get(key)
        if row is None:
            row = RollupRow(check_id=key[0], resolution=resolution, bucket=key[1])
            session.add(row)
        agg.into(row)


def _aggregate(
    rows: Iterable[tuple[str, datetime, str, float | None]],
) -> tuple[dict[tuple[str, datetime], Agg], ...]:
    minutes: dict[tuple[str, datetime], Agg] = {}
    hours: dict[tuple[str, datetime], Agg] = {}
    for check_id, ts, status, latency in rows:
        minutes.setdefault((check_id, floor(ts, MINUTE)), Agg()).add(status, latency)
        hours.setdefault((check_id, floor(ts, HOUR)), Agg()).add(status, latency)
    return minutes, hours


def roll_up(session: Session, until: datetime) -> int:
    """Roll up every closed minute before `until` not rolled up yet; returns the raw rows consumed."""
    end = floor(until, MINUTE)
    start = get_watermark(session)
    if start is None:
        first = session.scalar(select(ResultRow.ts).order_by(ResultRow.ts).limit(1))
        if first is None:
            _set_watermark(session, end)
            return 0
        start = floor(first, MINUTE)
    consumed = 0
    while start < end:
        stop = min(end, start + CHUNK)
        rows = session.execute(
            select(ResultRow.check_id, ResultRow.ts, ResultRow.status, ResultRow.latency_ms).where(
                ResultRow.ts >= start, ResultRow.ts < stop
            )
        )
        minutes, hours = _aggregate(rows)
        _merge(session, MINUTE, minutes)
        _merge(session, HOUR, hours)
        consumed += sum(a.count for a in minutes.values())
        start = stop
        _set_watermark(session, start)
    return consumed


def merge_late_results(session: Session, batch: Sequence[StoredResult]) -> None:
    """Merge results whose minute is already behind the watermark (a slow check, a late push)."""
    watermark = get_watermark(session)
    if watermark is None:
        return
    late = [r for r in batch if r.ts < watermark]
    if not late:
        return
    minutes, hours = _aggregate(
        (r.check_id, r.ts, r.result.status.value, r.result.latency_ms) for r in late
    )
    _merge(session, MINUTE, minutes)
    _merge(session, HOUR, hours)


def rollups(
    session: Session, check_id: str, resolution: int, start: datetime, end: datetime
) -> list[RollupRow]:
    return list(
        session.scalars(
            select(RollupRow)
            .where(
                RollupRow.check_id == check_id,
                RollupRow.resolution == resolution,
                RollupRow.bucket >= start,
                RollupRow.bucket < end,
            )
            .order_by(RollupRow.bucket)
        )
    )
