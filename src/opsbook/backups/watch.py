"""The backup watch: a supervised loop that feeds the backup checks' results into the pipeline.

Each round (woken by `Topic.BACKUPS` events, or at the next instant a judgement changes by the clock
alone: an RPO breach, a backup retention should have removed, a missed schedule, a drill falling due or
overdue) it runs the list commands that are due, judges every job (`backups.assess`) and records the
results of `backups/<job>-state` and `backups/<job>-drill`, whose rules alert through the usual path.
Drills due by their schedule run as opsbook itself, one at a time per job, off the loop.

`heartbeat_hook(config)` is the result writer's hook that turns a backup job's pings into backups.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from opsbook.auth.roles import SYSTEM
from opsbook.backups import service, store
from opsbook.backups.assess import next_time
from opsbook.backups.checks import SERVICE, drill_check_name, state_check_name
from opsbook.backups.config import BackupJob
from opsbook.checks.result import StoredResult
from opsbook.checks.scheduler import ResultSink
from opsbook.checks.store import BatchOutcome
from opsbook.checks.writer import Hook
from opsbook.loops import Loop, Looped, Supervisor
from opsbook.runtime import Runtime

log = logging.getLogger(__name__)

KEEPALIVE = timedelta(hours=1)
"""A round at least this often, so the checks' rules always see a recent result."""


def heartbeat_hook(jobs: Sequence[BackupJob]) -> Hook:
    """The writer hook recording backups from backup jobs' pings, in the results' transaction."""

    def hook(session: Session, batch: Sequence[StoredResult], _outcome: BatchOutcome) -> None:
        store.record_heartbeats(session, jobs, batch, batch[-1].ts if batch else datetime.min)

    return hook


class BackupWatch(Looped):
    finish_round_on_stop = False

    def __init__(self, runtime: Runtime, sink: ResultSink, supervisor: Supervisor | None = None) -> None:
        self.runtime = runtime
        self.sink = sink
        self.jobs = list(runtime.config.backups)
        self.loop = Loop("backups", self.step, runtime.clock, max_wait=KEEPALIVE, supervisor=supervisor)
        self.drilling: dict[str, asyncio.Future[None]] = {}  # the drills running now, by job

    async def step(self) -> datetime | None:
        if not self.jobs:
            return None
        results, wake_at, due = await asyncio.to_thread(self.round)
        for result in results:
            self.sink(result)
        for name in due:
            if name not in self.drilling:
                task = asyncio.create_task(self._drill(name))
                self.drilling[name] = task
        return wake_at

    async def drills_done(self) -> None:
        """Wait for the drills running now (tests)."""
        await asyncio.gather(*self.drilling.values(), return_exceptions=True)

    async def _drill(self, name: str) -> None:
        try:
            await asyncio.to_thread(service.run_drill, self.runtime, SYSTEM, name, trigger="schedule")
        except Exception:
            log.exception("the scheduled restore drill of %s could not be recorded", name)
        finally:
            self.drilling.pop(name, None)
            self.wake()

    def round(self) -> tuple[list[StoredResult], datetime | None, list[str]]:
        """Refresh due listings, judge every job; the results, when to look again, the drills due."""
        now = self.runtime.clock.now()
        with self.runtime.sessions.begin() as session:
            watched = store.job_rows(session, self.jobs, now)
            listing_due = [j.name for j in self.jobs if j.list is not None and _due(watched[j.name].listed_at,
                                                                                    j.list.every, now)]
        for name in listing_due:
            service.refresh_listing(self.runtime, name)
        results: list[StoredResult] = []
        wakes: list[datetime] = []
        due: list[str] = []
        with self.runtime.sessions.begin() as session:
            now = self.runtime.clock.now()
            watched = store.job_rows(session, self.jobs, now)
            for job in self.jobs:
                state = service.job_state(session, job, watched[job.name], now, self.runtime.config.timezone)
                results.append(StoredResult(f"{SERVICE}/{state_check_name(job.name)}", now,
                                            state.assessment.result()))
                wakes += [t for t in (state.assessment.next_change,) if t is not None]
                if job.list is not None:
                    listed_at = watched[job.name].listed_at or now
                    wakes.append(listed_at + job.list.every)
                if job.drill is None or state.drill is None:
                    continue
                results.append(StoredResult(f"{SERVICE}/{drill_check_name(job.name)}", now,
                                            state.drill.result()))
                if state.drill.next_change is not None:
                    wakes.append(state.drill.next_change)
                since = watched[job.name].watched_since
                if state.last_drill is not None:
                    since = max(since, state.last_drill.started_at)
                next_drill = next_time(job.drill.schedule, job.drill.timezone, since)
                if next_drill <= now:
                    due.append(job.name)
                else:
                    wakes.append(next_drill)
        future = [t for t in wakes if t > now]
        return results, min(future) if future else None, due


def _due(last: datetime | None, every: timedelta, now: datetime) -> bool:
    return last is None or last + every <= now
