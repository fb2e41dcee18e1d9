"""One deadline-driven asyncio loop that runs every scheduled check (not a timer per check).

Each check has a next-due time in a heap. Checks sharing an interval start evenly spread across it;
a global semaphore caps how many run at once; each run is its own task with its own timeout, so a hung
or slow check never delays the others. A check still running when it is due again is not started a
second time (the skip is counted). Lag (due time → start time) is reported for every run.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from opsbook.checks.result import CheckResult, StoredResult
from opsbook.checks.runner import run_check
from opsbook.checks.spec import CheckSpec, RunContext
from opsbook.clock import Clock

log = logging.getLogger(__name__)

ResultSink = Callable[[StoredResult], None]


@dataclass
class SchedulerStats:
    started: int = 0
    finished: int = 0
    skipped_overlap: int = 0
    running: int = 0


def initial_due(checks: Mapping[str, CheckSpec], now: datetime) -> dict[str, datetime]:
    """Spread the first runs of checks that share an interval evenly across that interval."""
    by_interval: dict[timedelta, list[str]] = defaultdict(list)
    for check_id, spec in checks.items():
        by_interval[spec.interval].append(check_id)
    due: dict[str, datetime] = {}
    for interval, ids in by_interval.items():
        step = interval / len(ids)
        for i, check_id in enumerate(sorted(ids)):
            due[check_id] = now + step * i
    return due


class Scheduler:
    def __init__(
        self,
        checks: Mapping[str, CheckSpec],
        clock: Clock,
        sink: ResultSink,
        concurrency: int = 500,
        on_lag: Callable[[float], None] = lambda _seconds: None,
    ) -> None:
        self.on_lag = on_lag
        self.clock = clock
        self.sink = sink
        self.checks = {cid: spec for cid, spec in checks.items() if spec.enabled and not spec.push}
        self.stats = SchedulerStats()
        self._sem = asyncio.Semaphore(concurrency)
        self._heap: list[tuple[datetime, int, str]] = []
        self._seq = itertools.count()
        self._running: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._ctx = RunContext(clock=clock)

    def _push(self, due: datetime, check_id: str) -> None:
        heapq.heappush(self._heap, (due, next(self._seq), check_id))

    async def run(self) -> None:
        """Run until cancelled; in-flight checks are cancelled with it. Started again (after a crash, by
        its supervisor) it schedules every check afresh."""
        self._heap.clear()
        for check_id, due in initial_due(self.checks, self.clock.now()).items():
            self._push(due, check_id)
        try:
            while self._heap:
                due, _, check_id = self._heap[0]
                if due > self.clock.now():
                    await self.clock.sleep_until(due)
                    continue
                heapq.heappop(self._heap)
                spec = self.checks[check_id]
                self._push(self._next_due(due, spec.interval), check_id)
                if check_id in self._running:
                    self.stats.skipped_overlap += 1
                    continue
                self._running.add(check_id)
                task = asyncio.create_task(self._run_one(check_id, spec, due))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            await asyncio.Event().wait()  # nothing scheduled: idle until cancelled
        finally:
            for task in list(self._tasks):
                task.cancel()

    def _next_due(self, due: datetime, interval: timedelta) -> datetime:
        nxt = due + interval
        now = self.clock.now()
        if nxt <= now:  # fell behind by more than an interval: keep the phase, skip missed slots
            missed = (now - due) // interval
            nxt = due + interval * (missed + 1)
        return nxt

    async def _run_one(self, check_id: str, spec: CheckSpec, due: datetime) -> None:
        try:
            async with self._sem:
                started = self.clock.now()
                self.stats.started += 1
                self.stats.running += 1
                self.on_lag((started - due).total_seconds())
                try:
                    result: CheckResult = await run_check(spec, self._ctx)
                finally:
                    self.stats.running -= 1
                self.stats.finished += 1
                self.sink(StoredResult(check_id, started, result))
        except asyncio.CancelledError:
            raise
        except Exception:  # the sink failing must not kill the loop
            log.exception("recording the result of %s failed", check_id)
        finally:
            self._running.discard(check_id)
