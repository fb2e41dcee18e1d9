"""Two pipelines on one PostgreSQL database, each with its own connections (two processes' worth): every
singleton duty runs in exactly one of them, the per-process loops in both, and when one's lock session
dies the other takes every duty over within the retry time of its loops."""

from __future__ import annotations

from sqlalchemy import Engine

from opsbook.clock import FakeClock
from opsbook.cluster.lock import RETRY
from opsbook.pipeline import PER_PROCESS, Pipeline
from tests.cluster.conftest import advisory_holders, terminate
from tests.e2e.conftest import eventually
from tests.support import make_runtime

CONFIG = """
services:
  - name: web
    checks:
      - {name: up, kind: tcp, host: 127.0.0.1, port: 9, interval: 1h}
"""


def _singletons(pipeline: Pipeline) -> set[str]:
    return {loop.name for loop in [pipeline.escalation.loop, *pipeline.loops]} - PER_PROCESS


async def test_each_duty_runs_in_one_pipeline_and_moves(engines: list[Engine], pg_db: str) -> None:
    clock = FakeClock()
    first, second = (Pipeline(make_runtime(engine, clock, CONFIG)) for engine in engines)
    duties = _singletons(first)
    assert {"escalation", "housekeeping", "unmute", "on-call notifier", "due alerts"} <= duties
    await first.start()
    await second.start()
    stopped = False
    try:
        await eventually(lambda: first.duties.held | second.duties.held == duties, "every duty held")
        assert not first.duties.held & second.duties.held  # none in both
        for pipeline in (first, second):
            assert all(loop.running for loop in pipeline.loops if loop.name in PER_PROCESS)

        await first.stop()  # one process goes away; with SQLAlchemy's pool gone its locks go too
        stopped = True
        await clock.advance(RETRY)
        await eventually(lambda: second.duties.held == duties, "the takeover of every duty", limit=30)
        assert len(advisory_holders(pg_db)) == 1
        terminate(pg_db, advisory_holders(pg_db))  # now the survivor's session is cut: it takes them back,
        for loop in [second.escalation.loop, *second.loops]:  # each at its duty's next round
            loop.wake()
        await eventually(lambda: second.duties.held == duties and len(advisory_holders(pg_db)) == 1,
                         "the duties taken again on a fresh session", limit=30)
    finally:
        if not stopped:
            await first.stop()
        await second.stop()
