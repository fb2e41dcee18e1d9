"""Assembles the running pipeline of DESIGN.md, in one process:

    scheduler, heartbeats → result writer → alert engine → dispatcher (mute, route) → outbox → delivery
                             ingest (PagerDuty, ↗   ↑ timer     ↘ incidents → escalation engine ↗
                             Alertmanager)          (pending `for`, damped resolves)
    housekeeping: rollups and retention; unmute: announce alerts whose silence or window ended

Results, the alert transitions they cause and the outbox rows those decide are written in one
transaction, so a crash can lose none of them. Whatever the alerting hooks do, results are stored
(`checks/writer.py`).

Every long-running duty is a supervised `Loop` (opsbook.loops): a crash is logged, retried with
backoff, shown on `/health` and `/metrics`, and raises an alert on opsbook itself. Components are woken
by domain events (opsbook.events), whatever surface or process committed the change: new outbox rows
wake the delivery worker; incident changes wake the escalation engine; mute changes wake the unmute
loop; on-call changes wake the handoff notifier. `Pipeline.start()` starts the loops, `stop()` stops the
producers and lets the writer and the delivery worker finish what they hold.

On PostgreSQL the singleton duties (every loop but those in `PER_PROCESS`) run in one process of the
cluster at a time, the one holding the duty's advisory lock (opsbook.cluster.lock); on SQLite they run.
A process's `ProcessIdentity` says what it does: a worker (`opsbook worker`, and `serve`) runs the checks
it leases (opsbook.cluster.node), evaluates rules, delivers and holds duties; a process without the
worker role (`serve --no-workers`) only stores what it receives (heartbeat pings) and follows the feed.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.alerts.dispatch import Dispatcher, config_dir
from opsbook.alerts.loop import DueAlerts
from opsbook.alerts.selfalert import SELF, clear_self_alert, raise_self_alert
from opsbook.alerts.service import AlertEngine
from opsbook.alerts.types import AlertHook, AlertTransition, TransitionKind
from opsbook.backups.watch import BackupWatch, heartbeat_hook
from opsbook.capacity.service import history_reader
from opsbook.checks.heartbeat_watch import HeartbeatWatch
from opsbook.checks.kinds.heartbeat import HeartbeatCheck
from opsbook.checks.kinds.probes.http import close_sessions
from opsbook.checks.result import StoredResult
from opsbook.checks.retention import prune
from opsbook.checks.rollup import roll_up
from opsbook.checks.scheduler import Scheduler
from opsbook.checks.store import BatchOutcome
from opsbook.checks.writer import HookFailure, ResultWriter, Written
from opsbook.chores.watch import ChoreWatch
from opsbook.cluster.identity import ProcessIdentity
from opsbook.cluster.lock import DutyLocks
from opsbook.cluster.node import ClusterNode
from opsbook.dependencies.release import release_due
from opsbook.deploys.metrics import DeployCollector
from opsbook.deploys.service import mark_interrupted
from opsbook.events import Event, Topic, on_commit
from opsbook.incidents.escalation import EscalationEngine
from opsbook.incidents.linking import alert_hook
from opsbook.incidents.metrics import IncidentCollector
from opsbook.incidents.models import IncidentAlertRow
from opsbook.locations.combine import LocatedStore
from opsbook.locations.units import probe_units
from opsbook.locations.watch import LocationWatch
from opsbook.loops import Loop, LoopHealth, Supervisor
from opsbook.metrics import Metrics, PipelineCollector, StoreCollector
from opsbook.notify.worker import DeliveryWorker, GiveUp
from opsbook.oncall.notifier import OncallNotifier
from opsbook.postgres.duties import DatabaseCare
from opsbook.rules.severity import Severity
from opsbook.runbooks.service import automatable, find_procedure, run_unattended
from opsbook.runtime import Runtime
from opsbook.secrets.watch import SecretWatch
from opsbook.slo.watch import SloWatch
from opsbook.subscribers.messages import subscriber_of
from opsbook.subscribers.watch import SubscriberWatch

log = logging.getLogger(__name__)

ROLLUP_EVERY = timedelta(minutes=1)
ROLLUP_LAG = timedelta(minutes=2)  # a minute is rolled up once results of slow checks have landed
PRUNE_EVERY = timedelta(minutes=10)
UNMUTE_EVERY = timedelta(seconds=30)  # a window's end is due by the clock, not by an event
INCIDENT_WINDOW = timedelta(days=30)  # MTTA/MTTR gauges look this far back
PER_PROCESS = frozenset({"scheduler", "heartbeats", "change feed"})
"""Loops every worker runs (its leased checks, its heartbeat deadlines, its wake-ups); on PostgreSQL every
other loop is a singleton duty, run by the one process of the cluster that holds its advisory lock."""
RECEIVING = frozenset({"change feed"})
"""The loops of a process without the worker role (besides the result writer)."""


class Pipeline:
    def __init__(
        self, runtime: Runtime, metrics: Metrics | None = None, identity: ProcessIdentity | None = None
    ) -> None:
        self.runtime = runtime
        self.identity = identity or ProcessIdentity.for_serve()
        self.metrics = metrics or Metrics()
        cfg = runtime.config
        clock = runtime.clock
        checks = cfg.checks()
        self.supervisor = Supervisor(on_down=self._loop_down, on_up=self._loop_up)
        self.alerts = AlertEngine(cfg, history=history_reader(runtime))
        self.dispatcher = Dispatcher(cfg, config_dir(runtime.loaded.path))
        self.notifier = DeliveryWorker.from_runtime(
            runtime, on_give_up=self._gave_up, supervisor=self.supervisor
        )
        self.escalation = EscalationEngine(runtime, supervisor=self.supervisor)
        self.oncall = OncallNotifier(runtime, supervisor=self.supervisor)
        self.incidents = alert_hook(cfg)
        self.alert_hooks: list[AlertHook] = [self.run_hooks]
        self.due = DueAlerts(
            runtime.sessions, clock, self.alerts, self.alert_hooks, supervisor=self.supervisor
        )
        self.writer = ResultWriter(
            runtime.sessions,
            clock,
            batch_size=cfg.scheduler.batch_size,
            flush_interval=cfg.scheduler.flush_interval.total_seconds(),
            hooks=[heartbeat_hook(cfg.backups), self._evaluate],  # a backup job's ping is a backup
            store=LocatedStore(checks).write,  # with the verdicts of checks probed from several locations
        )
        self.writer.after_commit.append(self._after_write)
        self.writer.on_hook_failure = self._hooks_failed
        self.writer.on_drop = self._results_dropped
        clustered = runtime.engine.dialect.name == "postgresql"
        units = probe_units(checks, self.identity.location, clustered)  # `web/api@eu`: a location's probe
        self.scheduler = Scheduler(units, clock, self.record, cfg.scheduler.concurrency, on_lag=self._lag,
                                   zone=cfg.timezone)
        beats = {cid: spec for cid, spec in checks.items() if isinstance(spec, HeartbeatCheck)}
        self.heartbeats = HeartbeatWatch(beats, clock, self.record, runtime.sessions, cfg.timezone)
        self.backups = BackupWatch(runtime, self.record, self.supervisor)
        self.secrets = SecretWatch(runtime, self.record, self.supervisor)
        self.chores = ChoreWatch(runtime, self.run_hooks, self.supervisor)
        self.subscribers = SubscriberWatch(runtime, self.supervisor)
        self.slos = SloWatch(runtime, self.run_hooks, self.supervisor)
        self.locations = LocationWatch(runtime, self.run_hooks, self.supervisor)
        self.metrics.register_store(StoreCollector(runtime.sessions))
        self.metrics.registry.register(PipelineCollector(self.supervisor, self.writer, clock))
        self.metrics.register_store(IncidentCollector(runtime.sessions, clock, INCIDENT_WINDOW))
        self.metrics.register_store(DeployCollector(runtime))
        self.unmute = self._loop("unmute", self._unmute_step)
        self.loops: list[Loop] = [
            self._loop("scheduler", self._forever(self.scheduler.run)),
            self._loop("heartbeats", self._forever(self.heartbeats.run)),
            self._loop("housekeeping", self._housekeeping_step(), max_wait=ROLLUP_EVERY),
            self.due.loop,
            self.unmute,
            self.oncall.loop,
            self._loop("change feed", lambda: runtime.feed.watch_step(clock)),
            self.backups.loop,
            self.secrets.loop,
            self.chores.loop,
            self.subscribers.loop,
            self.slos.loop,
            self.locations.loop,
        ]
        care = DatabaseCare(runtime, self.run_hooks)
        self.loops += [self._loop("pg maintenance", care.maintenance), self._loop("pg samples", care.samples),
                       self._loop("capacity rollup", care.capacity)]
        self.writer_loop = self._loop("result writer", self._forever(self.writer.run))
        self.duties = DutyLocks(runtime.engine, clock, retry=cfg.cluster.lease / 2)  # default 5 s
        self.node = ClusterNode(runtime, self.identity, checks, duties=lambda: self.duties.held,
                                supervisor=self.supervisor)
        self.node.listeners += [self.scheduler.assign, self.heartbeats.assign]
        self._hooks_failing = False
        self._loop_ref: asyncio.AbstractEventLoop | None = None
        self._remediations: set[asyncio.Task[int | None]] = set()
        self._side_tasks: set[asyncio.Task[Any]] = set()
        self._unsubscribe: list[Callable[[], None]] = []

    def _loop(
        self, name: str, step: Callable[[], Coroutine[Any, Any, datetime | None]], **kw: Any
    ) -> Loop:
        return Loop(name, step, self.runtime.clock, supervisor=self.supervisor, **kw)

    @staticmethod
    def _forever(run: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], Coroutine[Any, Any, None]]:
        """A component's own run-forever coroutine as a loop step (restarted if it crashes)."""

        async def step() -> None:
            await run()

        return step

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
        if fired and self._loop_ref is not None:
            loop = self._loop_ref
            on_commit(session, lambda: loop.call_soon_threadsafe(self._remediate_all, fired))

    def _lag(self, seconds: float) -> None:
        self.metrics.scheduler_lag.observe(seconds)
        self.node.note_lag(seconds)

    def _after_write(self, written: Written) -> None:
        self.metrics.results_written.inc(len(written.stored))

    def _hooks_failed(self, failures: list[HookFailure]) -> None:
        """After each batch: alert on opsbook itself while some check's evaluation fails, clear it after."""
        if failures:
            self.metrics.hook_failures.inc(len(failures))
        failing = bool(failures)
        if failing == self._hooks_failing:
            return
        self._hooks_failing = failing
        names = ", ".join(sorted({f.check_id for f in failures})[:5])
        summary = (
            f"alert evaluation fails for {names}: {failures[0].error} (results are still stored)"
            if failing else "alert evaluation works again"
        )
        self._spawn(asyncio.to_thread(self._self_alert, "alerting-hooks-failing", summary, failing))

    def _results_dropped(self, count: int) -> None:
        self.metrics.results_dropped.inc(count)
        summary = f"{count} check results could not be stored and were dropped (see the log)"
        self._spawn(asyncio.to_thread(self._self_alert, "results-dropped", summary, True))

    # --- remediation ------------------------------------------------------------------------

    def _remediate_all(self, fired: list[AlertTransition]) -> None:
        for transition in fired:
            task = asyncio.create_task(self.remediate(transition))
            self._remediations.add(task)
            task.add_done_callback(self._remediations.discard)

    async def remediate(self, transition: AlertTransition) -> int | None:
        """Run the alert's runbook unattended if it (or a step of it) is marked `auto: true`."""
        try:
            found = find_procedure(self.runtime, transition.runbook)
        except LookupError:
            return None
        if not automatable(found.procedure):
            return None  # nothing else runs unattended
        incident = await asyncio.to_thread(self._incident_of, transition.alert_id)
        try:
            return await run_unattended(
                self.runtime,
                found,
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

    # --- opsbook's own alerts ---------------------------------------------------------------

    def _self_alert(self, key: str, summary: str, firing: bool) -> None:
        """Raise (or clear) an alert on opsbook itself, through the same hooks as every alert."""
        with self.runtime.sessions.begin() as session:
            now = self.runtime.clock.now()
            self._self_alert_in(session, key, summary, firing, now)

    def _self_alert_in(self, session: Session, key: str, summary: str, firing: bool, now: datetime) -> None:
        if firing:
            transitions = raise_self_alert(session, key, summary[:500], Severity.P1, now)
        else:
            transitions = clear_self_alert(session, key, now, summary[:500])
        self.run_hooks(session, transitions, now)

    def _gave_up(self, session: Session, failed: GiveUp) -> None:
        """Delivery gave up on a message: raise an alert on opsbook itself (once per failing channel)."""
        if failed.kind == "firing" and failed.service == SELF:
            return  # a message about opsbook's own delivery trouble: do not loop
        if subscriber_of(failed.channel) is not None:
            return  # a status page subscriber's address refusing mail: counted on /ui/subscribers, no alert
        summary = f"notifications to channel {failed.channel} are failing: {failed.last_error}"
        self._self_alert_in(session, f"notify-failing:{failed.channel}", summary, True, failed.given_up_at)

    def _loop_down(self, health: LoopHealth) -> None:
        summary = f"opsbook's {health.name} loop keeps failing: {health.last_error}"
        self._spawn(asyncio.to_thread(self._self_alert, f"loop-down:{health.name}", summary, True))

    def _loop_up(self, health: LoopHealth) -> None:
        summary = f"opsbook's {health.name} loop works again"
        self._spawn(asyncio.to_thread(self._self_alert, f"loop-down:{health.name}", summary, False))

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run `work` in the background; its failure is logged (the database may be what is failing)."""

        async def guarded() -> None:
            try:
                await work
            except Exception:
                log.exception("raising an alert on opsbook itself failed")

        task = asyncio.get_running_loop().create_task(guarded())
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    # --- events -----------------------------------------------------------------------------

    def _subscribe(self) -> None:
        bus = self.runtime.bus

        def on(topics: Topic | list[Topic], *wakes: Callable[[], None]) -> None:
            def handler(_event: Event) -> None:
                for wake in wakes:
                    wake()

            self._unsubscribe.append(bus.subscribe(topics, handler))

        on(Topic.OUTBOX, self.notifier.wake)
        on(Topic.INCIDENTS, self.escalation.wake, self.notifier.wake)
        on(Topic.MUTES, self.unmute.wake)
        on(Topic.ONCALL, self.oncall.wake)
        on(Topic.BACKUPS, self.backups.wake)
        on([Topic.SECRETS, Topic.RUNS], self.secrets.wake)
        on([Topic.CHORES, Topic.RUNS], self.chores.wake)
        on([Topic.INCIDENTS, Topic.MUTES, Topic.SUBSCRIBERS], self.subscribers.wake)
        on([Topic.CHECKS, Topic.MUTES], self.slos.wake)

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop_ref = asyncio.get_running_loop()
        tune_interpreter()
        self._subscribe()
        await asyncio.to_thread(self._startup)
        await self.node.start()  # before the scheduler: on PostgreSQL a worker runs what it leases
        self.writer_loop.start()
        if not self.identity.works:
            for loop in self.loops:
                if loop.name in RECEIVING:
                    loop.start()
            return
        for duty in [self.escalation.loop, *self.loops]:  # loops added after __init__ too
            if duty.name not in PER_PROCESS:
                self.duties.guard(duty)
        self.notifier.start()
        self.escalation.start()
        for loop in self.loops:
            loop.start()

    def _startup(self) -> None:
        self.runtime.feed.sync()  # what is in the store now is not news
        self.heartbeats.load()
        if not self.identity.works:
            return
        mark_interrupted(self.runtime)  # deploys whose walk died with its process: never re-run
        with self.runtime.sessions.begin() as session:
            now = self.runtime.clock.now()
            self.run_hooks(session, self.alerts.reconcile(session, now), now)

    async def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        for loop in self.loops:
            await loop.stop()
        for task in [*self._remediations, *self._side_tasks]:
            task.cancel()
        await asyncio.gather(*self._remediations, *self._side_tasks, return_exceptions=True)
        await close_sessions()
        await self.node.stop()  # the leases back to the other workers at once
        await self.escalation.stop()
        self.writer.stop()  # the producers are gone: let the writer finish what it holds
        await self.writer_loop.stop(finish_round=True)
        await self.notifier.stop()
        await asyncio.to_thread(self.duties.close)  # another process takes the singleton duties over

    # --- periodic duties ----------------------------------------------------------------------

    def housekeep_once(self, prune_too: bool = True) -> None:
        """Roll up closed minutes and prune what retention allows (blocking; run in a thread)."""
        now = self.runtime.clock.now()
        with self.runtime.sessions.begin() as session:
            roll_up(session, now - ROLLUP_LAG)
        if prune_too:
            with self.runtime.sessions.begin() as session:
                prune(session, self.runtime.config.retention, now)

    def _housekeeping_step(self) -> Callable[[], Coroutine[Any, Any, datetime | None]]:
        next_prune: datetime | None = None

        async def step() -> datetime | None:
            nonlocal next_prune
            now = self.runtime.clock.now()
            prune_now = next_prune is None or now >= next_prune
            await asyncio.to_thread(self.housekeep_once, prune_now)
            if prune_now:
                next_prune = now + PRUNE_EVERY
            return now + ROLLUP_EVERY

        return step

    def unmute_once(self) -> datetime | None:
        with self.runtime.sessions.begin() as session:
            now = self.runtime.clock.now()
            mutes, unmuted = self.dispatcher.unmute(session, now)
            released, release_at = release_due(session, self.runtime.config, now)
            self.run_hooks(session, [*unmuted, *released], now)
        return min((t for t in (mutes.next_change(now), release_at) if t is not None), default=None)

    async def _unmute_step(self) -> datetime | None:
        nxt = await asyncio.to_thread(self.unmute_once)
        deadline = self.runtime.clock.now() + UNMUTE_EVERY
        return min(deadline, nxt) if nxt else deadline


def tune_interpreter() -> None:
    """Thousands of checks a second make many short-lived objects (tasks, futures, rows): with the
    default thresholds the cyclic collector took a third of the CPU (py-spy, bench/checks.py). Freeze
    what exists at start (config, modules) and collect the young generation less often.

    API handlers run in threads; with Python's default 5 ms switch interval a busy handler thread kept
    the event loop (pings, wake-ups, delivery) from the GIL long enough to delay alerts: a 1 ms interval
    took the alert p99 under 200 API clients from 1,053 to 846 ms (bench/api_load.py)."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    sys.setswitchinterval(0.001)
