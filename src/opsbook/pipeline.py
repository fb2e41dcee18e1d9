"""Assembles the running pipeline of DESIGN.md, in one process:

    scheduler, heartbeats → result writer → alert engine → dispatcher (mute, route) → outbox → delivery
                             ingest (PagerDuty, ↗   ↑ timer     ↘ incidents → escalation engine ↗
                             Alertmanager)          (pending `for`, damped resolves)
    housekeeping: rollups and retention; unmute: announce alerts whose silence or window ended

Results, the alert transitions they cause and the outbox rows those decide are written in one
transaction, so a crash can lose none of them. `Pipeline.start()` launches the loops as asyncio tasks;
`stop()` cancels the producers and lets the writer and the delivery worker finish what they hold.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from opsbook.alerts.dispatch import Dispatcher, config_dir
from opsbook.alerts.loop import AlertHook, run_due
from opsbook.alerts.service import AlertEngine, AlertTransition, TransitionKind, upsert_external
from opsbook.checks.heartbeat_watch import HeartbeatWatch
from opsbook.checks.kinds.heartbeat import HeartbeatCheck
from opsbook.checks.kinds.http import close_sessions
from opsbook.checks.result import StoredResult
from opsbook.checks.retention import prune
from opsbook.checks.rollup import roll_up
from opsbook.checks.scheduler import Scheduler
from opsbook.checks.store import BatchOutcome
from opsbook.checks.writer import ResultWriter
from opsbook.incidents.escalation import EscalationEngine, alert_hook
from opsbook.incidents.models import IncidentAlertRow
from opsbook.incidents.paging import contact_channels
from opsbook.incidents.report import register_metrics
from opsbook.metrics import Metrics, StoreCollector
from opsbook.notify.worker import DeliveryWorker, GiveUp
from opsbook.oncall.notifier import OncallNotifier
from opsbook.rules.severity import Severity
from opsbook.runbooks.service import RunContext, may_run_unattended, run_unattended
from opsbook.runtime import Runtime

log = logging.getLogger(__name__)

ROLLUP_EVERY = timedelta(minutes=1)
ROLLUP_LAG = timedelta(minutes=2)  # a minute is rolled up once results of slow checks have landed
PRUNE_EVERY = timedelta(minutes=10)
UNMUTE_EVERY = timedelta(seconds=30)  # also catches silences added or expired by other processes


class Pipeline:
    def __init__(self, runtime: Runtime, metrics: Metrics | None = None) -> None:
        self.runtime = runtime
        self.metrics = metrics or Metrics()
        self.metrics.registry.register(StoreCollector(runtime.sessions))
        cfg = runtime.config
        clock = runtime.clock
        checks = cfg.checks()
        self.alerts = AlertEngine(cfg)
        self.dispatcher = Dispatcher(cfg, config_dir(runtime.loaded.path))
        self.notifier = DeliveryWorker.from_runtime(
            runtime, extra_channels=contact_channels(cfg), on_give_up=self._gave_up
        )
        self.escalation = EscalationEngine(runtime, on_enqueued=self.notifier.wake)
        self.oncall = OncallNotifier(runtime, on_enqueued=self.notifier.wake)
        self.incidents = alert_hook(cfg, after_commit=self._incident_changed)
        self.alert_hooks: list[AlertHook] = [self.run_hooks]
        register_metrics(self.metrics.registry, runtime.sessions, clock)
        self.writer = ResultWriter(
            runtime.sessions,
            clock,
            batch_size=cfg.scheduler.batch_size,
            flush_interval=cfg.scheduler.flush_interval.total_seconds(),
            hooks=[self._evaluate],
        )
        self.writer.after_commit.append(self._after_write)
        self.scheduler = Scheduler(
            checks, clock, self.record, cfg.scheduler.concurrency, on_lag=self.metrics.scheduler_lag.observe
        )
        beats = {cid: spec for cid, spec in checks.items() if isinstance(spec, HeartbeatCheck)}
        self.heartbeats = HeartbeatWatch(beats, clock, self.record, runtime.sessions)
        self.on_incident_change: list[Callable[[], None]] = []  # e.g. the status page's invalidate
        self._loop: asyncio.AbstractEventLoop | None = None
        self._remediations: set[asyncio.Task[int | None]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._writer_task: asyncio.Task[None] | None = None

    # --- the results path -------------------------------------------------------------------

    def record(self, result: StoredResult) -> None:
        self.metrics.observe_result(result)
        self.writer.put(result)

    def _evaluate(self, session: Session, _batch: Sequence[StoredResult], outcome: BatchOutcome) -> None:
        """Writer hook: evaluate the rules of the checks just written, in the same transaction."""
        now = self.runtime.clock.now()
        self.run_hooks(session, self.alerts.process(session, outcome.check_ids, now), now)

    def run_hooks(self, session: Session, transitions: Sequence[AlertTransition], now: datetime) -> None:
        """What every alert change goes through, in its transaction: mute, notify, open or join incidents."""
        marked = self.dispatcher.mark_muted(session, transitions, now)
        self.dispatcher(session, marked, now)
        self.incidents(session, marked, now)
        fired = [t for t in marked if t.kind is TransitionKind.FIRED and not t.silenced and t.runbook]
        if fired and self._loop is not None:
            loop = self._loop
            event.listen(
                session,
                "after_commit",
                lambda _s: loop.call_soon_threadsafe(self._remediate_all, fired),
                once=True,
            )

    def _remediate_all(self, fired: list[AlertTransition]) -> None:
        for transition in fired:
            task = asyncio.create_task(self.remediate(transition))
            self._remediations.add(task)
            task.add_done_callback(self._remediations.discard)

    async def remediate(self, transition: AlertTransition) -> int | None:
        """Run the alert's runbook unattended if it (or a step of it) is marked `auto: true`."""
        try:
            found = self.dispatcher.catalog().resolve(transition.runbook)
        except LookupError:
            return None
        if not any(may_run_unattended(found.procedure, step) for step in found.procedure.steps):
            return None  # nothing else runs unattended
        incident = await asyncio.to_thread(self._incident_of, transition.alert_id)
        ctx = RunContext(
            settings=self.runtime.config.runbooks,
            clock=self.runtime.clock,
            secrets=self.runtime.loaded.all_secrets(),
            cwd=self.dispatcher.config_dir,
        )
        try:
            return await run_unattended(
                self.runtime.sessions,
                found,
                ctx=ctx,
                incident_id=incident,
                reason=f"automated remediation: {transition.summary}",
            )
        except Exception:
            log.exception("automated remediation %r failed", transition.runbook)
            return None

    async def remediations_done(self) -> None:
        """Wait for the remediation runs started so far (scheduled after their transaction committed)."""
        await asyncio.sleep(0)
        await asyncio.gather(*self._remediations, return_exceptions=True)

    def _incident_of(self, alert_id: int) -> int | None:
        with self.runtime.sessions() as session:
            return session.scalar(
                select(IncidentAlertRow.incident_id).where(IncidentAlertRow.alert_id == alert_id).limit(1)
            )

    def _incident_changed(self) -> None:
        self.notifier.wake()
        self.escalation.wake()
        for callback in self.on_incident_change:
            callback()

    def _after_write(self, batch: Sequence[StoredResult], _outcome: BatchOutcome) -> None:
        self.metrics.results_written.inc(len(batch))
        self.notifier.wake()

    def _gave_up(self, session: Session, failed: GiveUp) -> None:
        """Delivery gave up on a message: raise an alert on opsbook itself (once per failing channel)."""
        if failed.kind == "firing" and failed.service == "opsbook":
            return  # a message about opsbook's own delivery trouble: do not loop
        transitions = upsert_external(
            session,
            source="opsbook",
            dedup_key=f"notify-failing:{failed.channel}",
            action="trigger",
            service="opsbook",
            severity=Severity.P1,
            summary=f"notifications to channel {failed.channel} are failing: {failed.last_error}"[:500],
            payload={"outbox_id": failed.outbox_id, "attempts": failed.attempts},
            now=failed.given_up_at,
        )
        self.run_hooks(session, transitions, failed.given_up_at)

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        tune_gc()
        await asyncio.to_thread(self._startup)
        self._writer_task = asyncio.create_task(self.writer.run())
        self.notifier.start()
        self.escalation.start()
        loops: list[Coroutine[Any, Any, None]] = [
            self.scheduler.run(),
            self.heartbeats.run(),
            self.housekeeping(),
            run_due(self.runtime.sessions, self.runtime.clock, self.alerts, self.alert_hooks),
            self.unmute_loop(),
            self.oncall.run(),
        ]
        self._tasks = [asyncio.create_task(loop) for loop in loops]

    def _startup(self) -> None:
        self.heartbeats.load()
        with self.runtime.sessions.begin() as session:
            now = self.runtime.clock.now()
            self.run_hooks(session, self.alerts.reconcile(session, now), now)

    async def stop(self) -> None:
        running: list[asyncio.Task[Any]] = [*self._tasks, *self._remediations]
        for task in running:
            task.cancel()
        for task in running:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        await close_sessions()
        await self.escalation.stop()
        self.writer.stop()  # the producers are gone: let the writer finish what it holds
        if self._writer_task is not None:
            await self._writer_task
            self._writer_task = None
        await self.notifier.stop()

    # --- periodic duties ----------------------------------------------------------------------

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
            prune_now = now >= next_prune
            await _guarded(partial(asyncio.to_thread, self.housekeep_once, prune_now), "housekeeping")
            if prune_now:
                next_prune = now + PRUNE_EVERY
            await clock.sleep_until(now + ROLLUP_EVERY)

    def unmute_once(self) -> datetime | None:
        with self.runtime.sessions.begin() as session:
            now = self.runtime.clock.now()
            mutes, unmuted = self.dispatcher.unmute(session, now)
            self.run_hooks(session, unmuted, now)
        self.notifier.wake()
        return mutes.next_change(now)

    async def unmute_loop(self) -> None:
        clock = self.runtime.clock
        while True:
            nxt: datetime | None = None

            async def once() -> None:
                nonlocal nxt
                nxt = await asyncio.to_thread(self.unmute_once)

            await _guarded(once, "announcing unmuted alerts")
            deadline = clock.now() + UNMUTE_EVERY
            await clock.sleep_until(min(deadline, nxt) if nxt else deadline)


def tune_gc() -> None:
    """Thousands of checks a second make many short-lived objects (tasks, futures, rows): with the
    default thresholds the cyclic collector took a third of the CPU (py-spy, bench/checks.py). Freeze
    what exists at start (config, modules) and collect the young generation less often."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


async def _guarded(work: Callable[[], Coroutine[Any, Any, Any]], what: str) -> None:
    try:
        await work()
    except Exception:
        log.exception("%s failed; will try again", what)
