"""Drills through the pipeline: a failed drill (a corrupted dump) alerts with the restore's error, a drill
not done by its time plus grace alerts as overdue, and secrets in a DSN never reach what is recorded."""

from __future__ import annotations

import asyncio
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from opsbook.alerts.models import AlertRow
from opsbook.auth.roles import Principal, Role
from opsbook.backups import service
from opsbook.checks.kinds.postgres import libpq_dsn
from opsbook.clock import FakeClock
from opsbook.oplog.models import OplogEntryRow
from opsbook.pipeline import Pipeline
from tests.backups.support import settle
from tests.support import make_runtime

RICK = Principal("rick", Role.RESPONDER, "test")
START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday


def config(dsn: str, dump: str) -> str:
    return f"""
timezone: Europe/Berlin
backups:
  - name: shop
    component: shop database
    schedule: "0 2 * * *"
    rto: 1h
    heartbeat: {{}}
    drill:
      schedule: "0 4 * * 0"
      grace: 6h
      postgres: {{dsn: "{dsn}", dump: "{dump}"}}
      smoke: [{{sql: "select true"}}]
"""


def firing(engine: Engine) -> dict[str, AlertRow]:
    with Session(engine) as s:
        rows = s.scalars(select(AlertRow).where(AlertRow.check_id == "backups/shop-drill",
                                                AlertRow.state == "firing"))
        return {r.rule or "": r for r in rows}


async def test_a_corrupted_dump_fails_the_drill_and_the_alert_carries_the_restores_error(
    sqlite_engine: Engine, pg_url: str, tmp_path: Path
) -> None:
    dump = tmp_path / "shop.dump"
    subprocess.run(["pg_dump", "--format=custom", f"--file={dump}", f"--dbname={libpq_dsn(pg_url)}"],
                   check=True)
    data = dump.read_bytes()
    dump.write_bytes(data[: len(data) // 2])  # cut in the middle, as a full disk leaves it
    clock = FakeClock(START)
    runtime = make_runtime(sqlite_engine, clock, config(pg_url, str(dump)))
    pipeline = Pipeline(runtime)
    await pipeline.start()
    try:
        row = await asyncio.to_thread(service.run_drill, runtime, RICK, "shop")  # `opsbook backup drill shop`
        assert not row.ok and "pg_restore: error:" in row.error
        await settle(pipeline, lambda: "drill-failed" in firing(sqlite_engine))
        alert = firing(sqlite_engine)["drill-failed"]
        assert alert.severity == "P2" and alert.fired_at == START
        assert alert.summary.startswith(
            "Backup shop of shop database: restore drill failed: restore drill of 2026-03-02 13:00 CET "
            "failed: restore failed (exit code 1): pg_restore")
        assert "pg_restore: error:" in alert.summary
        with Session(sqlite_engine) as s:
            entry = s.get(OplogEntryRow, row.oplog_id)
            assert entry is not None and entry.operation == "Restore drill of shop (shop database): FAILED"
            assert "pg_restore: error:" in entry.issues and entry.operator == "rick"
    finally:
        await pipeline.stop()


async def test_a_drill_not_done_by_its_time_and_grace_is_overdue(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    clock = FakeClock(START)
    runtime = make_runtime(sqlite_engine, clock, config("postgresql://postgres@127.0.0.1:1/postgres",
                                                       str(tmp_path / "none-*.dump")))
    pipeline = Pipeline(runtime)
    hung: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    pipeline.backups.drilling["shop"] = hung  # a restore that never ends
    await pipeline.start()
    try:
        # Sunday 04:00 the drill is due; at 09:59:59 it is still within its 6 h grace
        await clock.advance(datetime(2026, 3, 8, 9, 59, 59, tzinfo=UTC) - clock.now())
        await settle(pipeline)
        assert "drill-overdue" not in firing(sqlite_engine)
        await clock.advance(timedelta(seconds=1))
        await settle(pipeline, lambda: "drill-overdue" in firing(sqlite_engine))
        overdue = firing(sqlite_engine)["drill-overdue"]
        assert overdue.fired_at == datetime(2026, 3, 8, 10, 0, tzinfo=UTC)
        assert "none since the one due 2026-03-08 05:00 CET (grace 6h)" in overdue.summary
    finally:
        hung.cancel()
        pipeline.backups.drilling.clear()
        await pipeline.stop()


def test_secrets_in_the_drill_dsn_never_reach_the_record(sqlite_engine: Engine, tmp_path: Path) -> None:
    runtime = make_runtime(sqlite_engine, FakeClock(START), config(
        "postgresql://drill:Sup3r-s3cret-pw@127.0.0.1:1/postgres", str(tmp_path / "*.dump")))
    (tmp_path / "shop.dump").write_bytes(b"PGDMP not really")
    row = service.run_drill(runtime, RICK, "shop")
    assert not row.ok and "cannot create the scratch database" in row.error
    recorded = row.error + row.output + repr(row.steps)
    assert "Sup3r-s3cret-pw" not in recorded
    with Session(sqlite_engine) as s:
        entry = s.get(OplogEntryRow, row.oplog_id)
        assert entry is not None and "Sup3r-s3cret-pw" not in entry.issues + repr(entry.steps)
