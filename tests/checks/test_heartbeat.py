"""Heartbeats through the real HTTP server: pings, /start and /fail, and a missed ping on the fake clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from opsbook.checks import store
from opsbook.checks.kinds.heartbeat import HeartbeatCheck
from opsbook.checks.models import CheckStateRow
from opsbook.clock import FakeClock
from opsbook.pipeline import Pipeline
from opsbook.web.app import create_app
from tests.support import make_runtime, serving

CONFIG = """
timezone: Europe/Berlin
services:
  - name: backups
    checks:
      - name: nightly
        kind: heartbeat
        period: 1h
        grace: 5m
        token: nightly-backup-token-123
      - name: cron-job
        kind: heartbeat
        cron: "0 3 * * *"
        timezone: Europe/Berlin
        grace: 30m
"""


def results(engine: Engine, check_id: str) -> list[tuple[datetime, str, str]]:
    with Session(engine) as s:
        rows = store.results(s, check_id, datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
        return [(r.ts, r.status, r.message) for r in reversed(rows)]


async def test_ping_then_missed_ping_fails_exactly_when_grace_runs_out(sqlite_engine: Engine) -> None:
    clock = FakeClock(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
    runtime = make_runtime(sqlite_engine, clock, CONFIG)
    pipeline = Pipeline(runtime)
    async with serving(create_app(runtime, pipeline)) as base, httpx.AsyncClient(base_url=base) as http:
        assert (await http.get("/ping/nightly-backup-token-123/start")).json() == {"status": "started"}
        await clock.advance(timedelta(minutes=2))
        reply = await http.post("/ping/nightly-backup-token-123", content="backup 1.2 GB done")
        assert reply.json() == {"status": "ok"}
        assert (await http.get("/ping/not-a-token")).status_code == 404
        assert (await http.get("/ping/nightly-backup-token-123/bogus")).status_code == 404

        # due at 13:02, grace 5 min: nothing is recorded until 13:07, a failure exactly then
        await clock.advance(timedelta(minutes=64, seconds=59))
        await pipeline.writer.flush()
        assert [status for _, status, _ in results(sqlite_engine, "backups/nightly")] == ["up"]
        await clock.advance(timedelta(seconds=1))
        await pipeline.writer.flush()
        history = results(sqlite_engine, "backups/nightly")
        assert [(ts, status) for ts, status, _ in history] == [
            (datetime(2026, 3, 2, 12, 2, tzinfo=UTC), "up"),
            (datetime(2026, 3, 2, 13, 7, tzinfo=UTC), "down"),
        ]
        assert "backup 1.2 GB done" in history[0][2]
        # the deadline in the team's zone, named
        assert history[1][2] == "no ping by 2026-03-02 14:07:00 CET (expected every 1h, grace 5m)"

        assert (await http.get("/ping/nightly-backup-token-123/fail")).json() == {"status": "failed"}
        assert (await http.get("/ping/nightly-backup-token-123/0")).json() == {"status": "ok"}
        assert (await http.get("/ping/nightly-backup-token-123/3")).json() == {"status": "failed"}
    with Session(sqlite_engine) as s:
        state = s.get(CheckStateRow, "backups/nightly")
        assert state is not None and state.last_ping_at == clock.now()
    assert results(sqlite_engine, "backups/nightly")[-1][2] == "job exited with code 3"


async def test_start_then_success_measures_the_run_time(sqlite_engine: Engine, clock: FakeClock) -> None:
    runtime = make_runtime(sqlite_engine, clock, CONFIG)
    pipeline = Pipeline(runtime)
    async with serving(create_app(runtime, pipeline)) as base, httpx.AsyncClient(base_url=base) as http:
        await http.get("/ping/nightly-backup-token-123/start")
        await clock.advance(timedelta(seconds=95))
        await http.get("/ping/nightly-backup-token-123")
        await pipeline.writer.flush()
    with Session(sqlite_engine) as s:
        (row,) = store.results(s, "backups/nightly", datetime(2000, 1, 1, tzinfo=UTC),
                               datetime(2100, 1, 1, tzinfo=UTC))
    assert row.values == {"duration_s": 95.0}


async def test_a_restart_does_not_record_the_same_miss_twice(sqlite_engine: Engine) -> None:
    clock = FakeClock(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
    for _ in range(2):
        pipeline = Pipeline(make_runtime(sqlite_engine, clock, CONFIG))
        await pipeline.start()
        await clock.advance(timedelta(minutes=66))
        await pipeline.stop()
    history = results(sqlite_engine, "backups/nightly")
    assert [(ts.hour, ts.minute) for ts, _, _ in history] == [(13, 5), (14, 5)]


def test_cron_expectation_follows_the_time_zone() -> None:
    check = HeartbeatCheck(kind="heartbeat", name="x", cron="0 3 * * *", timezone="Europe/Berlin", grace=1800)
    # 03:00 in Berlin is 02:00 UTC in winter and 01:00 UTC in summer
    assert check.deadline(datetime(2026, 1, 10, 12, 0, tzinfo=UTC)) == datetime(
        2026, 1, 11, 2, 30, tzinfo=UTC
    )
    assert check.deadline(datetime(2026, 7, 10, 12, 0, tzinfo=UTC)) == datetime(
        2026, 7, 11, 1, 30, tzinfo=UTC
    )


@pytest.mark.parametrize("fields", [{}, {"period": 60, "cron": "* * * * *"}, {"cron": "every day"}])
def test_a_heartbeat_needs_one_valid_schedule(fields: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        HeartbeatCheck(kind="heartbeat", name="x", **fields)
