"""The store on SQLite and PostgreSQL: states and changes, rollups, retention over a week, exact uptime."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from opsbook.checks import histogram
from opsbook.checks.compact import to_us, unpack_chunk
from opsbook.checks.models import CheckStateRow, ResultRow, RollupRow, StateChangeRow
from opsbook.checks.result import CheckResult, StoredResult
from opsbook.checks.retention import prune
from opsbook.checks.rollup import HOUR, MINUTE, roll_up, rollups
from opsbook.checks.store import write_batch
from opsbook.checks.uptime import uptime, uptime_from_changes, uptime_many
from opsbook.config.schema import Retention

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)


def up(ts: datetime, latency: float = 10.0, check: str = "api/health") -> StoredResult:
    return StoredResult(check, ts, CheckResult.up(latency))


def down(ts: datetime, check: str = "api/health") -> StoredResult:
    return StoredResult(check, ts, CheckResult.down("HTTP 500", 3.0))


def test_states_consecutive_failures_and_changes(engine: Engine) -> None:
    batch = [
        up(T0),
        down(T0 + timedelta(seconds=30)),
        down(T0 + timedelta(seconds=60)),
        down(T0 + timedelta(seconds=90)),
    ]
    with Session(engine) as s, s.begin():
        outcome = write_batch(s, batch)
    assert [(c.from_status, c.to_status) for c in outcome.changes] == [(None, "up"), ("up", "down")]
    with Session(engine) as s:
        state = s.get(CheckStateRow, "api/health")
        assert state is not None
        assert (state.status, state.consecutive_failures, state.since) == (
            "down",
            3,
            T0 + timedelta(seconds=30),
        )
        assert s.scalar(select(func.count()).select_from(ResultRow)) == 4
    with Session(engine) as s, s.begin():  # recovery resets the count and logs the change
        outcome = write_batch(s, [up(T0 + timedelta(seconds=120))])
    assert [(c.from_status, c.to_status) for c in outcome.changes] == [("down", "up")]
    with Session(engine) as s:
        assert s.get(CheckStateRow, "api/health").consecutive_failures == 0  # type: ignore[union-attr]


def test_rollups_count_failures_and_answer_percentiles(engine: Engine) -> None:
    batch = [up(T0 + timedelta(seconds=i), latency=float(i + 1)) for i in range(100)]  # 1..100 ms
    batch.append(down(T0 + timedelta(seconds=5)))
    with Session(engine) as s, s.begin():
        write_batch(s, batch)
        roll_up(s, T0 + timedelta(hours=1))
    with Session(engine) as s:
        minutes = rollups(s, "api/health", MINUTE, T0, T0 + timedelta(hours=1))
        hours = rollups(s, "api/health", HOUR, T0, T0 + timedelta(hours=1))
    assert [m.count for m in minutes] == [61, 40]
    assert sum(m.failures for m in minutes) == 1
    (hour,) = hours
    assert (hour.count, hour.failures, hour.latency_min, hour.latency_max) == (101, 1, 1.0, 100.0)
    p95 = hour.latency_percentile(0.95)
    with Session(engine) as s:  # the day's chunk: one hour bucket, its histogram as (bucket, count) pairs
        data = s.scalar(select(RollupRow.data).where(RollupRow.resolution == HOUR))
    assert data is not None and len(data) < 80
    assert p95 is not None and 75 <= p95 <= 100  # the true p95 (95 ms) lies in the 75–100 ms bucket


def test_a_late_result_is_merged_into_rolled_up_minutes(engine: Engine) -> None:
    with Session(engine) as s, s.begin():
        write_batch(s, [up(T0)])
        roll_up(s, T0 + timedelta(minutes=5))
    with Session(engine) as s, s.begin():
        write_batch(s, [down(T0 + timedelta(seconds=20))])  # its minute is already rolled up
    with Session(engine) as s:
        (minute,) = rollups(s, "api/health", MINUTE, T0, T0 + timedelta(minutes=5))
        stored = s.scalar(select(func.count()).select_from(RollupRow).where(RollupRow.resolution == MINUTE))
    assert (minute.count, minute.failures) == (2, 1)
    assert stored == 1  # the minute held one result (no rollup); with two it has its own


def test_a_week_pruned_keeps_rollups_changes_and_exact_uptime(engine: Engine) -> None:
    """A check every minute for a week, 30 minutes down on day 2; housekeeping every hour."""
    outage = (T0 + timedelta(days=1, hours=10), T0 + timedelta(days=1, hours=10, minutes=30))
    retention = Retention(raw=timedelta(hours=48))
    for hour in range(7 * 24):
        start = T0 + timedelta(hours=hour)
        batch = [
            down(ts) if outage[0] <= ts < outage[1] else up(ts)
            for ts in (start + timedelta(minutes=m) for m in range(60))
        ]
        now = start + timedelta(hours=1)
        with Session(engine) as s, s.begin():
            write_batch(s, batch)
            roll_up(s, now)
            prune(s, retention, now)
    end = T0 + timedelta(days=7)
    with Session(engine) as s:
        oldest_raw = s.scalar(select(func.min(ResultRow.ts)))
        raw = s.scalar(select(func.count()).select_from(ResultRow))
        hour_rows = rollups(s, "api/health", HOUR, T0, end)
        hours, failures = len(hour_rows), sum(h.failures for h in hour_rows)
        minute_rows = s.scalar(select(func.count()).where(RollupRow.resolution == MINUTE))
        changes = s.scalar(select(func.count()).select_from(StateChangeRow))
        week = uptime(s, "api/health", T0, end)
    assert oldest_raw is not None and oldest_raw >= to_us(end - timedelta(hours=48))
    assert raw == 48 * 60
    assert hours == 7 * 24 and failures == 30
    assert minute_rows == 0  # a check run every minute: its raw rows are its minutes
    assert changes == 3  # first up, down, up
    assert week.down_seconds == 30 * 60
    assert week.percent == round((7 * 1440 - 30) / (7 * 1440) * 100, 4)


def test_retention_prunes_old_rollups_and_changes_but_keeps_the_last_known_state(engine: Engine) -> None:
    with Session(engine) as s, s.begin():
        write_batch(s, [up(T0), down(T0 + timedelta(days=1)), up(T0 + timedelta(days=2))])
        roll_up(s, T0 + timedelta(days=3))
        retention = Retention(
            raw=timedelta(hours=1),
            minute_rollups=timedelta(days=1),
            hour_rollups=timedelta(days=2),
            state_changes=timedelta(days=1),
        )
        pruned = prune(s, retention, T0 + timedelta(days=3, hours=1))
    # rollups go by whole chunks: the day of T0 (its chunk ended before the 2-day cutoff); the day after
    # is kept until all of it is older. Single results per minute have no minute rollups to prune.
    assert (pruned.raw, pruned.minute_rollups, pruned.hour_rollups, pruned.state_changes) == (3, 0, 1, 2)
    with Session(engine) as s:
        # the change of day 2 is older than a day but is the last before the cutoff: kept
        assert [c.to_status for c in s.scalars(select(StateChangeRow))] == ["up"]
        assert uptime(s, "api/health", T0 + timedelta(days=3), T0 + timedelta(days=4)).percent == 100.0


def test_uptime_many_matches_uptime(engine: Engine) -> None:
    with Session(engine) as s, s.begin():
        write_batch(
            s,
            [
                up(T0, check="a/x"),
                down(T0 + timedelta(hours=1), check="a/x"),
                up(T0 + timedelta(hours=2), check="a/x"),
                down(T0, check="b/y"),
            ],
        )
    with Session(engine) as s:
        many = uptime_many(s, ["a/x", "b/y", "c/never"], T0 - timedelta(hours=1), T0 + timedelta(hours=4))
        assert many["a/x"] == uptime(s, "a/x", T0 - timedelta(hours=1), T0 + timedelta(hours=4))
        assert many["a/x"].percent == 75.0  # 1 h down in 4 known hours; the hour before T0 is unknown
        assert many["b/y"].percent == 0.0
        assert many["c/never"].percent is None


@given(
    st.lists(st.tuples(st.integers(1, 10_000), st.sampled_from(["up", "down", "degraded"])), max_size=30),
    st.sampled_from(["up", "down", None]),
)
@settings(max_examples=200, deadline=None)
def test_uptime_sums_to_the_known_span(raw: list[tuple[int, str]], before: str | None) -> None:
    start, end = T0, T0 + timedelta(seconds=10_001)
    changes = sorted((T0 + timedelta(seconds=s), status) for s, status in raw)
    result = uptime_from_changes(changes, start, end, before)
    first_known = start if before is not None else (changes[0][0] if changes else end)
    assert result.known_seconds == pytest.approx((end - first_known).total_seconds())
    down_expected = 0.0
    points = ([(start, before)] if before else []) + list(changes) + [(end, None)]
    for (ts, status), (nxt, _) in itertools.pairwise(points):
        if status == "down":
            down_expected += (nxt - ts).total_seconds()
    assert result.down_seconds == pytest.approx(down_expected)


@given(st.lists(st.floats(0.1, 50_000), min_size=1, max_size=300), st.sampled_from([0.5, 0.95, 0.99]))
@settings(max_examples=200, deadline=None)
def test_histogram_percentile_lies_in_the_bucket_of_the_true_value(values: list[float], q: float) -> None:
    hist = histogram.add(histogram.empty(), values)
    estimate = histogram.percentile(hist, q, min(values), max(values))
    ordered = sorted(values)
    true = ordered[max(0, int(-(-q * len(values) // 1)) - 1)]  # nearest-rank
    bucket = histogram.bucket_of(true)
    lower = histogram.BOUNDS_MS[bucket - 1] if bucket > 0 else 0.0
    upper = histogram.BOUNDS_MS[bucket] if bucket < len(histogram.BOUNDS_MS) else max(values)
    assert estimate is not None
    assert min(lower, min(values)) - 1e-9 <= estimate <= max(upper, true) + 1e-9


def test_rolling_up_many_checks_at_once(engine: Engine) -> None:
    """600 checks x 20 minutes: 12,000 (check, minute) pairs, more than PostgreSQL takes in one statement."""
    batch = [up(T0 + timedelta(minutes=m, seconds=sec), check=f"svc/c{i}")
             for i in range(600) for m in range(20) for sec in (0, 30)]
    with Session(engine) as s, s.begin():
        write_batch(s, batch)
        assert roll_up(s, T0 + timedelta(hours=1)) == 24_000
    with Session(engine) as s:
        counts: dict[int, int] = {MINUTE: 0, HOUR: 0}
        buckets = 0
        rows = s.execute(select(RollupRow.resolution, RollupRow.chunk, RollupRow.data))
        for resolution, chunk, data in rows:
            unpacked = unpack_chunk(data, chunk, resolution)
            counts[resolution] += sum(a.count for a in unpacked.values())
            buckets += len(unpacked) if resolution == MINUTE else 0
    assert counts == {MINUTE: 24_000, HOUR: 24_000} and buckets == 12_000
