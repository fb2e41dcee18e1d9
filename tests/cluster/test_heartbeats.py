"""Heartbeat checks in a cluster: pings arrive at whichever process the load balancer picks, but only the
worker leasing the check watches its deadline. Two HeartbeatWatch instances on one PostgreSQL database
(two processes' worth) on the fake clock: a ping received by the other one moves the deadline instead of
a miss being recorded; without a ping the miss is recorded once, by the leaseholder."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from opsbook.checks.heartbeat_watch import MISSED_PREFIX, HeartbeatWatch
from opsbook.checks.result import StoredResult
from opsbook.clock import FakeClock
from opsbook.db.engine import make_sessionmaker
from tests.e2e.conftest import eventually
from tests.support import make_runtime

CONFIG = """
services:
  - name: backups
    checks:
      - {name: nightly, kind: heartbeat, period: 1h, grace: 5m, token: nightly-token-123456}
"""
CHECK = "backups/nightly"


async def test_only_the_leaseholder_records_a_miss_and_not_after_a_ping_elsewhere(
    engines: list[Engine],
) -> None:
    clock = FakeClock(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
    beats = make_runtime(engines[0], clock, CONFIG).config.checks()
    sinks: dict[str, list[StoredResult]] = {"holder": [], "api": []}
    holder, api = (
        HeartbeatWatch({CHECK: beats[CHECK]}, clock, sinks[who].append, make_sessionmaker(engine))
        for who, engine in zip(("holder", "api"), engines, strict=True)
    )
    for watch in (holder, api):
        await asyncio.to_thread(watch.load)
    holder.assign(frozenset({CHECK}))
    api.assign(frozenset())  # an API process: receives pings, watches no deadline
    tasks = [asyncio.create_task(w.run()) for w in (holder, api)]
    try:
        await clock.advance(timedelta(minutes=50))
        assert await api.ping("nightly-token-123456") == "ok"  # at 12:50, at the API process
        await clock.advance(timedelta(minutes=20))  # 13:10: past the first deadline (13:05)
        expected = datetime(2026, 3, 2, 13, 55, tzinfo=UTC)  # the ping read from the database moved it
        await eventually(lambda: holder.beats[CHECK].deadline == expected, "the holder's deadline moved")
        assert [r.result.message for r in sinks["holder"]] == []  # and no miss was recorded
        assert [r.result.ok for r in sinks["api"]] == [True]  # the ping itself, recorded where it came

        await clock.advance(timedelta(minutes=50))  # 14:00: no ping since 12:50, deadline 13:55
        await eventually(lambda: len(sinks["holder"]) == 1, "the holder recording the miss")
        assert sinks["holder"][0].result.message.startswith(MISSED_PREFIX)
        assert len(sinks["api"]) == 1  # the API process never records misses
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
