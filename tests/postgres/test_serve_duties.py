"""The database-care duties as `serve` runs them: the pipeline's supervised loops store a sample of the
database at start and every `postgres.sample_every`, run a maintenance task at its firing (not before),
and roll the capacity values up — on a fake clock, against the real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from opsbook.checks.models import MetaRow
from opsbook.clock import FakeClock
from opsbook.pipeline import Pipeline
from opsbook.postgres.models import MaintenanceRunRow, SnapshotRow
from tests.e2e.conftest import eventually
from tests.postgres.conftest import Troubled
from tests.support import make_runtime

SUNDAY = datetime(2026, 3, 8, 2, 0, tzinfo=UTC)


def config(dsn: str) -> str:
    return f"""
services:
  - name: db
    checks:
      - {{name: main, kind: postgres, dsn: "{dsn}", measure: [connections, tables], interval: 1h,
         failures: 0}}
maintenance_windows:
  - {{name: sunday-db, cron: "0 2 * * 0", duration: 2h, services: [db]}}
postgres:
  sample_every: 30m
  maintenance:
    - {{name: analyze, check: db/main, sql: "ANALYZE bloated", cron: "15 2 * * 0", window: sunday-db}}
capacity:
  resources:
    - {{name: connections, check: db/main, value: connections_used, capacity: 300}}
"""


async def test_the_loops_sample_maintain_and_roll_up(troubled_db: Troubled, sqlite_engine: Engine) -> None:
    clock = FakeClock(SUNDAY)
    runtime = make_runtime(sqlite_engine, clock, config(troubled_db.dsn))
    pipeline = Pipeline(runtime)

    def count(model: type, **where: object) -> int:
        with Session(sqlite_engine) as session:
            query = select(func.count()).select_from(model)
            for name, value in where.items():
                query = query.where(getattr(model, name) == value)
            return int(session.scalar(query) or 0)

    def samples_are(n: int) -> bool:
        return count(SnapshotRow) == n

    await pipeline.start()
    try:
        await eventually(lambda: count(SnapshotRow) == 1, "the first sample", limit=60)
        await clock.advance_to(SUNDAY + timedelta(minutes=14))
        assert count(MaintenanceRunRow) == 0  # not before its firing
        await clock.advance_to(SUNDAY + timedelta(minutes=15))
        await eventually(lambda: count(MaintenanceRunRow, outcome="ok") == 1, "the 02:15 run", limit=60)
        # a loop's round runs its database work in a thread: each half hour is waited for before the next
        for n, minutes in ((2, 30), (3, 60)):
            await clock.advance_to(SUNDAY + timedelta(minutes=minutes))
            await eventually(partial(samples_are, n), f"sample {n}", limit=60)
        await clock.advance_to(SUNDAY + timedelta(hours=1, minutes=10))

        def rolled_up() -> bool:
            with Session(sqlite_engine) as session:
                mark = session.get(MetaRow, "capacity.hour_until")
            return mark is not None and mark.value.startswith("2026-03-08T03:00")

        await eventually(rolled_up, "the capacity rollup of 02:00-03:00", limit=60)
    finally:
        await pipeline.stop()
