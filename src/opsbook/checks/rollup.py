"""Per-minute and per-hour rollups of raw results: count, failures, latency sum/min/max and histogram.

Minutes are rolled up once they are closed (behind a watermark kept in the database, advanced in the
same transaction as the rollup rows); hours are merged from the same results. A result that arrives
for a minute already rolled up is merged straight away by the writer, so rollups never miss one.

The resolution follows the check's interval: a minute that holds one result (a check run every minute
or less often) gets no minute rollup, since its raw row says the same; `rollups(..., MINUTE, ...)`
answers those minutes from the raw rows while they are kept (`retention.raw`). Buckets are stored in
chunks, an hour of minutes or a day of hours per row (`checks.compact`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, func, insert, select, update
from sqlalchemy.orm import Session

from opsbook.checks import compact, histogram, keys
from opsbook.checks.compact import Agg
from opsbook.checks.models import MetaRow, ResultRow, RollupRow
from opsbook.checks.result import StoredResult

MINUTE = 60
HOUR = 3600
WATERMARK_KEY = "rollup.minute_until"
CHUNK = timedelta(hours=1)
CHUNK_IDS = 500

Key = tuple[int, int]  # (check key, bucket start in epoch seconds)
Raw = tuple[int, int, int, float | None]  # (check key, ts in µs, status code, latency)


@dataclass(frozen=True)
class Rollup:
    """One bucket of one check, as readers see it."""

    bucket: datetime
    count: int
    failures: int
    degraded: int
    latency_count: int
    latency_sum: float
    latency_min: float | None
    latency_max: float | None
    histogram: list[int]

    def latency_percentile(self, q: float) -> float | None:
        """The q-quantile (0..1) of latency in this bucket, from its histogram."""
        return histogram.percentile(self.histogram, q, self.latency_min, self.latency_max)

    @classmethod
    def of(cls, bucket: int, agg: Agg) -> Rollup:
        return cls(compact.from_s(bucket), agg.count, agg.failures, agg.degraded, agg.latency_count,
                   agg.latency_sum, agg.latency_min, agg.latency_max, agg.hist)


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


def _read_chunks(session: Session, resolution: int, wanted: Iterable[Key]) -> dict[Key, bytes]:
    """The stored chunk rows (key, chunk start) → data covering these (key, bucket) pairs.

    Read by check key (500 per query) and chunk range, not by a list of pairs: an hour of 5,000 checks
    is 300,000 pairs, more than PostgreSQL parses in one statement."""
    pairs = {(key, compact.chunk_of(bucket, resolution)) for key, bucket in wanted}
    if not pairs:
        return {}
    chunks = [chunk for _, chunk in pairs]
    lo, hi = min(chunks), max(chunks)
    ids = sorted({key for key, _ in pairs})
    out: dict[Key, bytes] = {}
    for i in range(0, len(ids), CHUNK_IDS):
        rows = session.execute(
            select(RollupRow.check_key, RollupRow.chunk, RollupRow.data).where(
                RollupRow.check_key.in_(ids[i : i + CHUNK_IDS]),
                RollupRow.resolution == resolution,
                RollupRow.chunk >= lo,
                RollupRow.chunk <= hi,
            )
        )
        out.update({(key, chunk): data for key, chunk, data in rows})
    return out


def _merge(session: Session, resolution: int, aggs: Mapping[Key, Agg], replace: bool = False) -> None:
    """Add `aggs` into their buckets (or, `replace`, put them in place of what is stored)."""
    if not aggs:
        return
    stored = _read_chunks(session, resolution, aggs)
    touched: dict[Key, dict[int, Agg]] = {}
    for (key, bucket), agg in aggs.items():
        chunk = compact.chunk_of(bucket, resolution)
        buckets = touched.get((key, chunk))
        if buckets is None:
            data = stored.get((key, chunk))
            buckets = touched[(key, chunk)] = (
                compact.unpack_chunk(data, chunk, resolution) if data is not None else {}
            )
        if replace or bucket not in buckets:
            buckets[bucket] = agg
        else:
            buckets[bucket].merge(agg)
    new: list[dict[str, object]] = []
    old: list[dict[str, object]] = []
    for (key, chunk), buckets in touched.items():
        row = {"check_key": key, "resolution": resolution, "chunk": chunk,
               "data": compact.pack_chunk(buckets, chunk, resolution)}
        (old if (key, chunk) in stored else new).append(row)
    if new:
        session.execute(insert(RollupRow), new)
    if old:
        session.execute(update(RollupRow), old)  # bulk UPDATE by primary key


def _aggregate(rows: Iterable[Raw]) -> tuple[dict[Key, Agg], dict[Key, Agg]]:
    """Raw (key, ts µs, status code, latency) → minute and hour buckets."""
    minutes: dict[Key, Agg] = {}
    hours: dict[Key, Agg] = {}
    for key, ts_us, status, latency in rows:
        second = ts_us // 1_000_000
        name = compact.STATUSES[status]
        minutes.setdefault((key, second - second % MINUTE), Agg()).add(name, latency)
        hours.setdefault((key, second - second % HOUR), Agg()).add(name, latency)
    return minutes, hours


def _several(minutes: Mapping[Key, Agg]) -> dict[Key, Agg]:
    """The minutes worth a rollup: those holding more than one result."""
    return {k: a for k, a in minutes.items() if a.count > 1}


def _raw(session: Session, which: ColumnElement[bool], start_us: int, stop_us: int) -> Iterable[Raw]:
    """(key, ts µs, status code, latency) of the raw rows of `which` checks in [start, stop)."""
    rows = session.execute(
        select(ResultRow.check_key, ResultRow.ts, ResultRow.status, ResultRow.latency_ms).where(
            which, ResultRow.ts >= start_us, ResultRow.ts < stop_us
        )
    )
    return ((k, t, s, latency) for k, t, s, latency in rows)


def roll_up(session: Session, until: datetime) -> int:
    """Roll up every closed minute before `until` not rolled up yet; returns the raw rows consumed."""
    end = floor(until, MINUTE)
    start = get_watermark(session)
    if start is None:
        first = session.scalar(select(func.min(ResultRow.ts)))
        if first is None:
            _set_watermark(session, end)
            return 0
        start = floor(compact.from_us(first), MINUTE)
    consumed = 0
    while start < end:
        stop = min(end, start + CHUNK)
        minutes, hours = _aggregate(
            _raw(session, ResultRow.check_key.in_(keys.all_keys()), compact.to_us(start), compact.to_us(stop))
        )
        _merge(session, MINUTE, _several(minutes))
        _merge(session, HOUR, hours)
        consumed += sum(a.count for a in minutes.values())
        start = stop
        _set_watermark(session, start)
    return consumed


def merge_late_results(session: Session, batch: Sequence[StoredResult], key: Mapping[str, int]) -> None:
    """Merge results whose minute is already behind the watermark (a slow check, a late push).

    Called after the batch's raw rows are inserted: a late result's minute is counted again from the raw
    rows (a minute that held one result gets its rollup once it holds two); hours add the late ones."""
    watermark = get_watermark(session)
    if watermark is None:
        return
    late = [r for r in batch if r.ts < watermark]
    if not late:
        return
    rows = [(key[r.check_id], compact.to_us(r.ts), compact.STATUS_CODE[r.result.status.value],
             r.result.latency_ms) for r in late]
    minutes, hours = _aggregate(rows)
    _merge(session, HOUR, hours)
    stored = _read_chunks(session, MINUTE, minutes)
    recounted: dict[Key, Agg] = {}
    for (check, minute), added in minutes.items():
        start = minute * 1_000_000
        fresh, _ = _aggregate(_raw(session, ResultRow.check_key == check, start, start + MINUTE * 1_000_000))
        agg = fresh.get((check, minute), Agg())
        chunk = compact.chunk_of(minute, MINUTE)
        data = stored.get((check, chunk))
        before = compact.unpack_chunk(data, chunk, MINUTE).get(minute) if data is not None else None
        if before is not None and agg.count < before.count + added.count:
            before.merge(added)  # the minute's raw rows are gone (pruned): add to what is stored
            agg = before
        if agg.count > 1:
            recounted[(check, minute)] = agg
    _merge(session, MINUTE, recounted, replace=True)


def rollups(session: Session, check_id: str, resolution: int, start: datetime, end: datetime) -> list[Rollup]:
    """One check's buckets with `start <= bucket < end`, oldest first. Minutes without a stored rollup
    (those holding a single result) come from the raw rows while they are kept."""
    lo, hi = compact.to_s(start), compact.to_s(end)
    first_chunk = compact.chunk_of(lo, resolution)
    found: dict[int, Agg] = {}
    rows = session.execute(
        select(RollupRow.chunk, RollupRow.data).where(
            RollupRow.check_key == keys.key_of(check_id),
            RollupRow.resolution == resolution,
            RollupRow.chunk >= first_chunk,
            RollupRow.chunk < hi,
        )
    )
    for chunk, data in rows:
        found.update({b: a for b, a in compact.unpack_chunk(data, chunk, resolution).items() if lo <= b < hi})
    if resolution == MINUTE:
        raw_start = -(-lo // MINUTE) * MINUTE  # whole minutes only
        minutes, _ = _aggregate(
            _raw(session, ResultRow.check_key == keys.key_of(check_id), raw_start * 1_000_000, hi * 1_000_000)
        )
        for (_, minute), agg in minutes.items():
            found.setdefault(minute, agg)
    return [Rollup.of(bucket, found[bucket]) for bucket in sorted(found)]
