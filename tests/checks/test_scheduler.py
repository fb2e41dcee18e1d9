"""The scheduler on a fake clock: even spread, no delay from a hung check, no overlapping runs."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from datetime import timedelta

import pytest

from opsbook.checks.result import Status, StoredResult
from opsbook.checks.scheduler import Scheduler
from opsbook.clock import FakeClock
from tests.checks.fake_kind import HANG, RUNS, FakeCheck


@pytest.fixture(autouse=True)
def _reset() -> None:
    HANG.clear()
    RUNS.clear()


async def drive(scheduler: Scheduler, clock: FakeClock, span: timedelta) -> None:
    task = asyncio.create_task(scheduler.run())
    try:
        await clock.advance(span)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_thousand_checks_with_one_interval_are_spread_evenly(clock: FakeClock) -> None:
    checks = {f"svc/c{i:04d}": FakeCheck(name=f"c{i:04d}", interval=60) for i in range(1000)}
    seen: list[StoredResult] = []
    lags: list[float] = []
    scheduler = Scheduler(checks, clock, seen.append, concurrency=1000, on_lag=lags.append)
    start = clock.now()
    await drive(scheduler, clock, timedelta(seconds=59.99))

    assert len(seen) == 1000 and len({r.check_id for r in seen}) == 1000
    offsets = sorted((r.ts - start).total_seconds() for r in seen)
    gaps = [b - a for a, b in itertools.pairwise(offsets)]
    assert min(gaps) == pytest.approx(0.06, abs=1e-6) and max(gaps) == pytest.approx(0.06, abs=1e-6)
    per_second = [sum(1 for o in offsets if s <= o < s + 1) for s in range(60)]
    assert max(per_second) <= 17  # 1000 / 60, never a burst
    assert max(lags) == 0.0


async def test_a_hung_check_delays_no_other_check(clock: FakeClock) -> None:
    checks = {f"svc/c{i}": FakeCheck(name=f"c{i}", interval=10) for i in range(100)}
    checks["svc/hung"] = FakeCheck(name="hung", interval=10, timeout=30)
    HANG.add("hung")
    seen: list[StoredResult] = []
    lags: list[float] = []
    scheduler = Scheduler(checks, clock, seen.append, concurrency=20, on_lag=lags.append)
    await drive(scheduler, clock, timedelta(seconds=59.999))

    others = [r for r in seen if r.check_id != "svc/hung"]
    assert len(others) == 600  # every other check ran at each of its 6 due times
    assert max(lags) == 0.0  # and started exactly when due
    # "hung" sorts last, so it first runs at 9.9 s, times out at 39.9 s and starts again at 49.9 s
    hung = [r for r in seen if r.check_id == "svc/hung"]
    assert [(r.result.status, r.result.message) for r in hung] == [(Status.DOWN, "timed out after 30s")]
    assert (hung[0].ts - clock.now()).total_seconds() == pytest.approx(100 * 10 / 101 - 59.999)
    assert RUNS["hung"] == 2
    assert (
        scheduler.stats.skipped_overlap >= 2
    )  # due at 19.9 and 29.9 s while still running: not started twice


async def test_falling_behind_keeps_the_phase_and_skips_missed_slots(clock: FakeClock) -> None:
    scheduler = Scheduler({"s/a": FakeCheck(name="a", interval=10)}, clock, lambda r: None)
    start = clock.now()
    assert scheduler._next_due(start, timedelta(seconds=10)) == start + timedelta(seconds=10)
    await clock.advance(timedelta(seconds=35))
    assert scheduler._next_due(start, timedelta(seconds=10)) == start + timedelta(seconds=40)


async def test_disabled_and_push_checks_are_not_scheduled(clock: FakeClock) -> None:
    from opsbook.checks.kinds.heartbeat import HeartbeatCheck

    checks = {
        "s/on": FakeCheck(name="on", interval=10),
        "s/off": FakeCheck(name="off", interval=10, enabled=False),
        "s/beat": HeartbeatCheck(kind="heartbeat", name="beat", period=60),
    }
    seen: list[StoredResult] = []
    await drive(Scheduler(checks, clock, seen.append), clock, timedelta(seconds=25))
    assert {r.check_id for r in seen} == {"s/on"}
