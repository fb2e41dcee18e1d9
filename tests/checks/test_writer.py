"""The result writer stores every result whatever its hooks do, and its buffer is bounded."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from opsbook.alerts.models import AlertRow
from opsbook.alerts.types import AlertTransition
from opsbook.auth.models import AuditRow
from opsbook.checks.models import CheckKeyRow, ResultRow
from opsbook.checks.result import CheckResult, Status, StoredResult
from opsbook.checks.store import BatchOutcome
from opsbook.checks.writer import Hook, HookFailure, ResultWriter
from opsbook.clock import FakeClock
from opsbook.db.engine import make_engine, make_sessionmaker
from opsbook.pipeline import Pipeline
from tests.support import free_port, make_runtime

T0 = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


def result(check_id: str, second: int = 0, status: Status = Status.UP) -> StoredResult:
    return StoredResult(check_id, T0 + timedelta(seconds=second), CheckResult(status, 12.0, "ok"))


def stored(engine: Engine) -> dict[str, int]:
    with Session(engine) as s:
        rows = s.execute(
            select(CheckKeyRow.name, func.count())
            .join(ResultRow, ResultRow.check_key == CheckKeyRow.id)
            .group_by(CheckKeyRow.name)
        ).all()
    return {check_id: count for check_id, count in rows}


def marking_hook(poison: str) -> Hook:
    """A hook that leaves a row per check it handled, and raises when it meets `poison`."""

    def hook(session: Session, batch: Sequence[StoredResult], outcome: BatchOutcome) -> None:
        for check_id in sorted(outcome.check_ids):
            session.add(AuditRow(ts=T0, actor="hook", action="evaluated", target=check_id, source="test",
                                 detail={}))
            session.flush()
            if check_id == poison:
                raise ZeroDivisionError(f"bug in evaluating {check_id}")

    return hook


async def test_a_hook_that_raises_for_one_check_loses_no_result(engine: Engine, clock: FakeClock) -> None:
    writer = ResultWriter(make_sessionmaker(engine), clock, batch_size=100,
                          hooks=[marking_hook("svc/c07")])
    reports: list[list[HookFailure]] = []
    writer.on_hook_failure = reports.append
    for second in range(3):  # three batches, each with every check
        for n in range(16):
            writer.put(result(f"svc/c{n:02d}", second))
        assert await writer.flush() == 16
    assert stored(engine) == {f"svc/c{n:02d}": 3 for n in range(16)}
    assert [[f.check_id for f in r] for r in reports] == [["svc/c07"]] * 3
    assert "ZeroDivisionError" in reports[0][0].error
    with Session(engine) as s:
        evaluated = s.scalars(select(AuditRow.target).where(AuditRow.action == "evaluated")).all()
    # the hooks' work is kept for the 15 other checks, in every batch, and undone for the broken one
    assert sorted(evaluated) == sorted([f"svc/c{n:02d}" for n in range(16) if n != 7] * 3)
    assert writer.pending == 0 and writer.hook_failures == 3


async def test_a_result_the_store_refuses_is_set_aside_and_reported(engine: Engine, clock: FakeClock) -> None:
    writer = ResultWriter(make_sessionmaker(engine), clock, batch_size=100)
    dropped: list[int] = []
    writer.on_drop = dropped.append
    naive = StoredResult("svc/bad", datetime(2026, 3, 2, 3, 0), CheckResult(Status.UP, 1.0, ""))
    for n in range(10):
        writer.put(result(f"svc/c{n}"))
    writer.put(naive)
    for n in range(10, 20):
        writer.put(result(f"svc/c{n}"))
    assert await writer.flush() == 20
    assert len(stored(engine)) == 20 and "svc/bad" not in stored(engine)
    assert dropped == [1] and writer.dropped == 1 and writer.pending == 0


async def test_while_the_store_is_away_the_buffer_keeps_the_newest_up_to_its_ceiling(
    clock: FakeClock,
) -> None:
    away = make_engine(f"postgresql+psycopg://opsbook:pw@127.0.0.1:{free_port()}/opsbook")  # nobody listens
    writer = ResultWriter(make_sessionmaker(away), clock, batch_size=10, max_pending=50)
    dropped: list[int] = []
    writer.on_drop = dropped.append
    for n in range(120):
        writer.put(result("svc/c", n))
        if n % 10 == 9:
            assert await writer.flush() == 0  # fails: the batch goes back to the buffer
    assert writer.pending == 50  # the ceiling
    assert writer.dropped == 70 and sum(dropped) == 70
    assert writer.oldest_pending() == T0 + timedelta(seconds=70)  # the oldest went first
    away.dispose()


PIPELINE_CONFIG = """
services:
  - name: api
    checks:
      - {name: good, kind: tcp, host: 127.0.0.1, port: 9, interval: 30s}
      - {name: bad, kind: tcp, host: 127.0.0.1, port: 9, interval: 30s}
"""


async def test_the_pipeline_alerts_on_itself_while_evaluation_fails_and_clears_it_after(
    engine: Engine, clock: FakeClock
) -> None:
    runtime = make_runtime(engine, clock, PIPELINE_CONFIG)
    pipeline = Pipeline(runtime)
    process = pipeline.alerts.process
    broken = {"api/bad"}

    def flaky(session: Session, check_ids: Iterable[str], now: datetime) -> list[AlertTransition]:
        chosen = set(check_ids)
        if broken & chosen:
            raise KeyError("a bug in the incident code")
        return process(session, chosen, now)

    pipeline.alerts.process = flaky  # type: ignore[method-assign]

    async def batch(second: int) -> None:
        await clock.advance_to(T0 + timedelta(seconds=second))
        pipeline.record(result("api/good", second, Status.DOWN))
        pipeline.record(result("api/bad", second, Status.DOWN))
        await pipeline.writer.flush()
        await asyncio.gather(*pipeline._side_tasks)

    def self_alerts() -> list[tuple[str, str]]:
        with Session(engine) as s:
            rows = s.scalars(select(AlertRow).where(AlertRow.service == "opsbook")).all()
            return [(r.dedup_key, r.state) for r in rows]

    for second in (0, 30, 60):
        await batch(second)
    assert stored(engine) == {"api/good": 3, "api/bad": 3}
    assert self_alerts() == [("alerting-hooks-failing", "firing")]
    with Session(engine) as s:  # the good check's own rule still fired on its third failure
        fired = s.scalars(select(AlertRow.check_id).where(AlertRow.state == "firing")).all()
    assert "api/good" in fired
    assert pipeline.writer.max_pending > 0 and pipeline.writer.pending == 0
    broken.clear()
    await batch(90)
    assert self_alerts() == [("alerting-hooks-failing", "resolved")]
