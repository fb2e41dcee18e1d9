"""One deadline-driven asyncio loop that runs every scheduled check (not a timer per check).

Each check has a next-due time in a heap. Checks sharing an interval start evenly spread across it;
a global semaphore caps how many run at once; each run is its own task with its own timeout, so a hung
or slow check never delays the others. A check still running when it is due again is not started a
second time (the skip is counted). Lag (due time → start time) is reported for every run.

In a cluster of workers (opsbook.cluster) a scheduler runs only the checks its process leases:
`assign(check_ids)` adds the checks gained (first runs spread over their interval, as at start) and drops
the checks lost, cancelling a run of theirs in flight; `assign(None)` (the default) runs every check.
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
        zone: str = "UTC",
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
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._ctx = RunContext(clock=clock, zone=zone)  # zone: the team's, for times in messages
        self.owned: frozenset[str] | None = None  # the checks this process runs (None: all of them)
        self._queued: set[str] = set()
        self._wake = asyncio.Event()

    def _push(self, due: datetime, check_id: str) -> None:
        self._queued.add(check_id)
        heapq.heappush(self._heap, (due, next(self._seq), check_id))

    def _mine(self, check_id: str) -> bool:
        return self.owned is None or check_id in self.owned

    def assign(self, owned: frozenset[str] | None) -> None:
        """Run these checks from now on (None: every check); call on the event loop."""
        self.owned = owned
        gained = {c: spec for c, spec in self.checks.items() if self._mine(c) and c not in self._queued}
        for check_id, due in initial_due(gained, self.clock.now()).items():
            self._push(due, check_id)
        for check_id, task in list(self._tasks.items()):
            if not self._mine(check_id):
                task.cancel()  # another worker runs it now
        self._wake.set()

    async def run(self) -> None:
        """Run until cancelled; in-flight checks are cancelled with it. Started again (after a crash, by
        its supervisor) it schedules every check afresh."""
        self._heap.clear()
        self._queued.clear()
        mine = {cid: spec for cid, spec in self.checks.items() if self._mine(cid)}
        for check_id, due in initial_due(mine, self.clock.now()).items():
            self._push(due, check_id)
        try:
            while True:
                self._wake.clear()
                if not self._heap:
                    await self._wake.wait()  # nothing scheduled: idle until checks are assigned
                    continue
                due, _, check_id = self._heap[0]
                if due > self.clock.now():
                    await self._sleep_until(due)
                    continue
                heapq.heappop(self._heap)
                if not self._mine(check_id):
                    self._queued.discard(check_id)  # lost to another worker
                    continue
                spec = self.checks[check_id]
                self._push(self._next_due(due, spec.interval), check_id)
                if check_id in self._running:
                    self.stats.skipped_overlap += 1
                    continue
                self._running.add(check_id)
                task = asyncio.create_task(self._run_one(check_id, spec, due), name=check_id)
                self._tasks[check_id] = task
                task.add_done_callback(self._forget)
        finally:
            for task in list(self._tasks.values()):
                task.cancel()

    def _forget(self, task: asyncio.Task[None]) -> None:
        check_id = task.get_name()
        if self._tasks.get(check_id) is task:
            del self._tasks[check_id]

    async def _sleep_until(self, due: datetime) -> None:
        """Until `due`, or until checks are assigned."""
        sleeper = asyncio.ensure_future(self.clock.sleep_until(due))
        woken = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, woken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            woken.cancel()

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
