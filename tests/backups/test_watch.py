"""Backup jobs through the pipeline on a fake clock: heartbeat pings become backups, the backup watch
records the `backups/<job>-state` results at the instants they change, and the rules fire alerts."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from opsbook.alerts.models import AlertRow
from opsbook.backups.models import BackupRow
from opsbook.clock import FakeClock
from opsbook.pipeline import Pipeline
from tests.backups.support import settle
from tests.support import make_runtime

TOKEN = "nightly-db-token-0123456789"
START = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)
STATE = "backups/nightly-state"
RDS = "backups/rds-state"


def config(extra: str = "") -> str:
    return f"""
timezone: Europe/Berlin
backups:
  - name: nightly
    component: db
    schedule: "0 2 * * *"
    rpo: 1d
    heartbeat: {{token: {TOKEN}, grace: 1h}}
{extra}
"""


def alerts(engine: Engine, check: str) -> dict[str, AlertRow]:
    with Session(engine) as s:
        rows = s.scalars(select(AlertRow).where(AlertRow.check_id == check).order_by(AlertRow.id)).all()
    return {r.rule or "": r for r in rows}


@pytest.fixture
async def running(
    sqlite_engine: Engine, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[Pipeline, FakeClock]]:
    clock = FakeClock(START)
    pipeline = Pipeline(make_runtime(sqlite_engine, clock, request.param))
    await pipeline.start()
    try:
        yield pipeline, clock
    finally:
        await pipeline.stop()


async def nightly(pipeline: Pipeline, clock: FakeClock, day: int, minutes: float, size: float) -> None:
    """The job runs at 02:00 of `day` (from START's date) for `minutes`, and pings its size."""
    at = START.replace(hour=2) + timedelta(days=day)
    await clock.advance(at - clock.now())
    assert await pipeline.heartbeats.ping(TOKEN, "start") == "started"
    await clock.advance(timedelta(minutes=minutes))
    assert await pipeline.heartbeats.ping(TOKEN, "", f"size={size:.0f}", {"size_bytes": size}) == "ok"
    await settle(pipeline)


@pytest.mark.parametrize("running", [config()], indirect=True)
async def test_a_backup_ten_times_faster_and_smaller_than_the_median_alerts(
    running: tuple[Pipeline, FakeClock], sqlite_engine: Engine
) -> None:
    pipeline, clock = running
    for day in range(5):
        await nightly(pipeline, clock, day, 20, 2e9)
    with Session(sqlite_engine) as s:
        backups = s.scalars(select(BackupRow).order_by(BackupRow.ts)).all()
    assert [(b.duration_s, b.size_bytes, b.source) for b in backups] == [(1200.0, 2e9, "heartbeat")] * 5
    assert "suspicious" not in {k for k, a in alerts(sqlite_engine, "backups/nightly-state").items()
                                if a.state == "firing"}

    await nightly(pipeline, clock, 5, 2, 2e8)  # 2 minutes and 200 MB: ten times less of both
    await settle(pipeline, lambda: "suspicious" in alerts(sqlite_engine, "backups/nightly-state"))
    alert = alerts(sqlite_engine, "backups/nightly-state")["suspicious"]
    assert alert.state == "firing" and alert.severity == "P2"
    assert alert.fired_at == START.replace(hour=2, minute=2) + timedelta(days=5)
    assert ("suspicious backup at 2026-03-06 03:02 CET: it took 120 s against a median of 1200 s"
            in alert.summary)
    assert "is 200.0 MB against a median of 2.0 GB" in alert.summary

    await nightly(pipeline, clock, 6, 21, 2.1e9)  # a normal backup again: it resolves
    await settle(pipeline, lambda: alerts(sqlite_engine, STATE)["suspicious"].state != "firing")


@pytest.mark.parametrize("running", [config()], indirect=True)
async def test_the_rpo_is_breached_at_the_instant_the_newest_good_backup_is_a_day_old(
    running: tuple[Pipeline, FakeClock], sqlite_engine: Engine
) -> None:
    pipeline, clock = running
    await nightly(pipeline, clock, 0, 20, 1e9)  # good backup at 02:20 on day 0
    await clock.advance(timedelta(hours=23, minutes=39))  # day 1, 01:59: the next run fails
    assert await pipeline.heartbeats.ping(TOKEN, "fail") == "failed"
    await settle(pipeline)
    await clock.advance(timedelta(minutes=20, seconds=59))  # 02:19:59: 1 s short of a day since 02:20
    await settle(pipeline)
    assert "rpo" not in alerts(sqlite_engine, "backups/nightly-state")
    assert alerts(sqlite_engine, "backups/nightly")["backup-missed"].state == "firing"  # the failed run

    await clock.advance(timedelta(seconds=1))
    await settle(pipeline, lambda: "rpo" in alerts(sqlite_engine, "backups/nightly-state"))
    rpo = alerts(sqlite_engine, "backups/nightly-state")["rpo"]
    assert rpo.state == "firing"
    assert rpo.fired_at == START.replace(hour=2, minute=20) + timedelta(days=1)
    assert rpo.summary.startswith("Backup nightly of db: newest good backup older than the RPO target 1d: "
                                  "RPO breached: newest good backup 1 d old")


def snapshots(now: datetime, days: int) -> dict[str, object]:
    """An `aws rds describe-db-snapshots --output json` answer: one snapshot a day at 03:00 for `days`."""
    first = now.replace(hour=3, minute=0) - timedelta(days=days - 1)
    return {"DBSnapshots": [
        {"DBSnapshotIdentifier": f"rds:prod-{(first + timedelta(days=i)):%Y-%m-%d}", "Status": "available",
         "SnapshotCreateTime": (first + timedelta(days=i)).isoformat().replace("+00:00", "Z"),
         "AllocatedStorage": 20}
        for i in range(days)
    ]}


LISTED = """
  - name: rds
    component: db
    schedule: "0 3 * * *"
    retention: {{days: 7}}
    list:
      command: cat {path}
      items: DBSnapshots
      time: SnapshotCreateTime
      size: AllocatedStorage
      size_unit: GiB
      status: Status
      id: DBSnapshotIdentifier
      every: 1h
"""


async def test_retention_violations_are_found_from_the_list_commands_json(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    listing = tmp_path / "snapshots.json"
    clock = FakeClock(datetime(2026, 3, 10, 12, 0, tzinfo=UTC))
    listing.write_text(json.dumps(snapshots(clock.now(), 10)))  # ten days kept against seven
    pipeline = Pipeline(make_runtime(sqlite_engine, clock, config(LISTED.format(path=listing))))
    await pipeline.start()
    try:
        await settle(pipeline, lambda: "retention" in alerts(sqlite_engine, "backups/rds-state"))
        alert = alerts(sqlite_engine, "backups/rds-state")["retention"]
        assert alert.state == "firing"
        assert ("3 backup(s) older than the 7-day retention still kept (oldest 2026-03-01 04:00 CET)"
                in alert.summary)
        with Session(sqlite_engine) as s:
            sizes = set(s.scalars(select(BackupRow.size_bytes).where(BackupRow.job == "rds")))
        assert sizes == {20 * 1024**3}

        # the old snapshots are deleted; at the next listing (an hour later) the alert resolves
        listing.write_text(json.dumps(snapshots(clock.now(), 7)))
        await clock.advance(timedelta(hours=1))
        await settle(pipeline, lambda: alerts(sqlite_engine, RDS)["retention"].state != "firing")

        # then a snapshot goes missing in the middle: fewer kept than the schedule made
        kept = snapshots(clock.now(), 7)
        del kept["DBSnapshots"][3:5]  # type: ignore[attr-defined]
        listing.write_text(json.dumps(kept))
        await clock.advance(timedelta(hours=1))
        await settle(pipeline, lambda: alerts(sqlite_engine, RDS)["retention"].state == "firing")
        assert "only 5 good backup(s) kept where the schedule and policy expect 7" in alerts(
            sqlite_engine, "backups/rds-state")["retention"].summary
    finally:
        await pipeline.stop()
