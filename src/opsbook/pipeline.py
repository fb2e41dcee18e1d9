"""Assembles the running pipeline: scheduler and heartbeats → result writer → (hooks) → housekeeping.

`Pipeline.start()` launches the loops as asyncio tasks; `stop()` cancels them and flushes what is
buffered. `opsbook serve` runs one; tests and benchmarks build one around a FakeClock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from opsbook.checks.heartbeat_watch import HeartbeatWatch
from opsbook.checks.kinds.heartbeat import HeartbeatCheck
from opsbook.checks.kinds.http import close_sessions
from opsbook.checks.result import StoredResult
from opsbook.checks.retention import prune
from opsbook.checks.rollup import roll_up
from opsbook.checks.scheduler import Scheduler
from opsbook.checks.writer import ResultWriter
from opsbook.metrics import Metrics
from opsbook.runtime import Runtime

log = logging.getLogger(__name__)

ROLLUP_EVERY = timedelta(minutes=1)
ROLLUP_LAG = timedelta(minutes=2)  # a minute is rolled up once results of slow checks have landed
PRUNE_EVERY = timedelta(minutes=10)


@dataclass
class Pipeline:
    runtime: Runtime
    metrics: Metrics = field(default_factory=Metrics)
    scheduler: Scheduler = field(init=False)
    writer: ResultWriter = field(init=False)
    heartbeats: HeartbeatWatch = field(init=False)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list, init=False)
    _writer_task: asyncio.Task[None] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        cfg = self.runtime.config
        clock = self.runtime.clock
        checks = cfg.checks()
        self.writer = ResultWriter(
            self.runtime.sessions,
            clock,
            batch_size=cfg.scheduler.batch_size,
            flush_interval=cfg.scheduler.flush_interval.total_seconds(),
        )
        self.writer.after_commit.append(lambda batch, _outcome: self.metrics.results_written.inc(len(batch)))
        self.scheduler = Scheduler(
            checks, clock, self.record, cfg.scheduler.concurrency, on_lag=self.metrics.scheduler_lag.observe
        )
        beats = {cid: spec for cid, spec in checks.items() if isinstance(spec, HeartbeatCheck)}
        self.heartbeats = HeartbeatWatch(beats, clock, self.record, self.runtime.sessions)

    def record(self, result: StoredResult) -> None:
        self.metrics.observe_result(result)
        self.writer.put(result)

    async def start(self) -> None:
        await asyncio.to_thread(self.heartbeats.load)
        self._writer_task = asyncio.create_task(self.writer.run())
        for coro in (self.scheduler.run(), self.heartbeats.run(), self.housekeeping()):
            self._tasks.append(asyncio.create_task(coro))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        await close_sessions()
        self.writer.stop()  # the producers are gone: let the writer finish what it holds
        if self._writer_task is not None:
            await self._writer_task
            self._writer_task = None

    def housekeep_once(self, prune_too: bool = True) -> None:
        """Roll up closed minutes and prune what retention allows (blocking; run in a thread)."""
        now = self.runtime.clock.now()
        with self.runtime.sessions.begin() as session:
            roll_up(session, now - ROLLUP_LAG)
        if prune_too:
            with self.runtime.sessions.begin() as session:
                prune(session, self.runtime.config.retention, now)

    async def housekeeping(self) -> None:
        clock = self.runtime.clock
        next_prune = clock.now()
        while True:
            now = clock.now()
            try:
                await asyncio.to_thread(self.housekeep_once, now >= next_prune)
                if now >= next_prune:
                    next_prune = now + PRUNE_EVERY
            except Exception:
                log.exception("housekeeping failed; will try again")
            await clock.sleep_until(now + ROLLUP_EVERY)
