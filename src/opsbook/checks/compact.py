"""The compact stored form of results and rollups: integer times, status codes, packed values and buckets.

- Times are integers: results in microseconds since the epoch (as exact as the datetimes they replace),
  rollup chunks in seconds.
- A status is a small integer (0 up, 1 degraded, 2 down).
- Measured values are one MessagePack map whose well-known names are numbers (`VALUE_NAMES`): an HTTP
  check's four values take 18 bytes instead of about 70 of JSON text, or 100 of JSONB; no values is NULL.
- Rollups are kept in chunks: one row holds the buckets of an hour (minute resolution) or of a day (hour
  resolution) of one check as a MessagePack list, latencies in integer microseconds and the histogram as
  (bucket index, count) pairs, so a row's fixed cost (about 30 bytes on PostgreSQL, and its index entry)
  is paid once per chunk, not per bucket.

This is the stored format: changing it needs a migration (c17a00000001_compact_results converts to it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgpack
from sqlalchemy import Float, Integer, String, TableClause, Text, column, table

from opsbook.checks import histogram

STATUSES = ("up", "degraded", "down")
STATUS_CODE = {name: code for code, name in enumerate(STATUSES)}

CHUNK_OF = {60: 3600, 3600: 86400}
"""Rollup resolution (s) → the span (s) of one stored row."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

VALUE_NAMES = (
    "status_code", "body_bytes", "ttfb_ms", "redirects",  # http
    "cpu_pct", "memory_pct", "swap_pct", "cpu_count", "load1", "load5", "load15", "disk_pct",  # host
    "connected_clients", "used_memory_bytes", "used_memory_pct",  # redis
    "days_left", "value", "duration_s", "exit_code",
)  # fmt: skip
"""Names stored as their position. Append only: the position is the stored form."""
_NAME_CODE = {name: code for code, name in enumerate(VALUE_NAMES)}


def to_us(ts: datetime) -> int:
    """Microseconds since the epoch (exact for any aware datetime)."""
    delta = ts - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(value: int) -> datetime:
    return datetime.fromtimestamp(value // 1_000_000, UTC).replace(microsecond=value % 1_000_000)


def to_s(ts: datetime) -> int:
    return to_us(ts) // 1_000_000


def from_s(value: int) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def pack_values(values: Mapping[str, Any]) -> bytes | None:
    if not values:
        return None
    return msgpack.packb({_NAME_CODE.get(name, name): value for name, value in values.items()})


def unpack_values(data: bytes | None) -> dict[str, Any]:
    if not data:
        return {}
    out = msgpack.unpackb(data, strict_map_key=False)
    if not isinstance(out, dict):
        return {}
    return {VALUE_NAMES[k] if isinstance(k, int) else k: v for k, v in out.items()}


def _us(ms: float | None) -> int | None:
    return None if ms is None else round(ms * 1000)


def _ms(us: int | None) -> float | None:
    return None if us is None else us / 1000


@dataclass
class Agg:
    """One rollup bucket: how many results, how many failed or slow, and their latencies."""

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

    def merge(self, other: Agg) -> None:
        self.count += other.count
        self.failures += other.failures
        self.degraded += other.degraded
        self.latency_count += other.latency_count
        self.latency_sum += other.latency_sum
        self.latency_min = _opt(min, self.latency_min, other.latency_min)
        self.latency_max = _opt(max, self.latency_max, other.latency_max)
        self.hist = histogram.merge(self.hist, other.hist)

    def encode(self) -> list[Any]:
        pairs = [n for i, c in enumerate(self.hist) if c for n in (i, c)]
        return [self.count, self.failures, self.degraded, self.latency_count, _us(self.latency_sum),
                _us(self.latency_min), _us(self.latency_max), pairs]

    @classmethod
    def decode(cls, item: list[Any]) -> Agg:
        count, failures, degraded, latency_count, total, low, high, pairs = item
        hist = histogram.empty()
        for i in range(0, len(pairs), 2):
            hist[pairs[i]] += pairs[i + 1]
        return cls(count, failures, degraded, latency_count, _ms(total) or 0.0, _ms(low), _ms(high), hist)


def _opt(fn: Any, a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return float(fn(a, b))


def pack_chunk(buckets: Mapping[int, Agg], chunk_start: int, resolution: int) -> bytes:
    """The buckets of one chunk (keys: bucket start in epoch seconds) as one MessagePack list."""
    flat: list[Any] = []
    for start in sorted(buckets):
        flat.append((start - chunk_start) // resolution)
        flat.append(buckets[start].encode())
    return msgpack.packb(flat)


def unpack_chunk(data: bytes, chunk_start: int, resolution: int) -> dict[int, Agg]:
    flat = msgpack.unpackb(data)
    return {chunk_start + flat[i] * resolution: Agg.decode(flat[i + 1]) for i in range(0, len(flat), 2)}


def chunk_of(bucket: int, resolution: int) -> int:
    span = CHUNK_OF[resolution]
    return bucket - bucket % span


def v1_tables(
    results: str = "check_results", rollups: str = "check_rollups"
) -> tuple[TableClause, TableClause]:
    """The raw-result and rollup tables in the form before this one (migration c16a00000001), for the
    migration that converts them and for what measures or tests it."""
    from opsbook.db.base import UtcDateTime
    from opsbook.db.types import Json

    old_results = table(
        results, column("id", Integer()), column("check_id", String()), column("ts", UtcDateTime()),
        column("status", String()), column("latency_ms", Float()), column("message", Text()),
        column("values", Json()),
    )
    old_rollups = table(
        rollups, column("check_id", String()), column("resolution", Integer()),
        column("bucket", UtcDateTime()), column("count", Integer()), column("failures", Integer()),
        column("degraded", Integer()), column("latency_count", Integer()), column("latency_sum", Float()),
        column("latency_min", Float()), column("latency_max", Float()), column("histogram", Json()),
    )
    return old_results, old_rollups
