"""The escalation engine: pages each open, unacknowledged incident's next level when it falls due,
records missed SLAs, and re-notifies acknowledged incidents left unresolved, on the injected Clock.

    engine = EscalationEngine(runtime, on_enqueued=notify_worker.wake)
    task = asyncio.create_task(engine.run())      # or engine.start(); await engine.stop()

`tick(now)` is one pass: for every open incident, in its own transaction with the incident row locked
(`FOR UPDATE` on PostgreSQL), `service.advance` sends the due steps of the incident's *snapshotted*
policy that have no `incident_escalation_steps` row yet (the outbox pages, the step row and the timeline
entry commit together) and records a missed acknowledgement deadline. It returns when the next step or
deadline is due; `run()` sleeps until then (at most `max_wait`, since another process may open
incidents) or until `wake()`. All state is in the database, so a new engine after a restart sends what
fell due while it was down, at once, and never a step that was already sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import event
from sqlalchemy.orm import Session

from opsbook.incidents import service

if TYPE_CHECKING:
    from opsbook.alerts.service import AlertTransition
    from opsbook.config.schema import OpsbookConfig
    from opsbook.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass
class TickResult:
    """What one pass did: steps sent as (incident id, step key), incidents whose SLA was missed, next due."""

    sent: list[tuple[int, str]] = field(default_factory=list)
    breached: list[int] = field(default_factory=list)
    next_at: datetime | None = None


class EscalationEngine:
    """Drives the escalations of all open incidents. Stateless between ticks: the database is the state."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        max_wait: timedelta = timedelta(seconds=30),
        offload: bool = True,
        on_enqueued: Callable[[], None] | None = None,
    ) -> None:
        self.runtime = runtime
        self.max_wait = max_wait
        self.offload = offload
        self.on_enqueued = on_enqueued
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    # --- one pass -------------------------------------------------------------------------------

    def tick(self, now: datetime) -> TickResult:
        """Advance every open incident to `now`; one transaction per incident (blocking)."""
        config = self.runtime.config
        sessions = self.runtime.sessions
        result = TickResult()
        with sessions() as session:
            ids = service.open_incident_ids(session)
        upcoming: list[datetime] = []
        for incident_id in ids:
            try:
                with sessions.begin() as session:
                    row = service._lock(session, incident_id)
                    done = service.advance(session, config, row, now)
                    result.sent += [(incident_id, s.step_key) for s in done.sent]
                    if done.breached:
                        result.breached.append(incident_id)
                    if done.next_at is not None:
                        upcoming.append(done.next_at)
            except Exception:
                # one broken incident must not stop the others; it is tried again on the next tick
                log.exception("escalating incident %s failed; trying again", incident_id)
                upcoming.append(now + timedelta(seconds=5))
        result.next_at = min(upcoming) if upcoming else None
        if (result.sent or result.breached) and self.on_enqueued is not None:
            with contextlib.suppress(Exception):
                self.on_enqueued()
        return result

    # --- the loop -------------------------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        if self._task is None or self._task.done():
            self._stopping = False
            self._task = asyncio.create_task(self.run(), name="escalation-engine")
        return self._task

    async def stop(self) -> None:
        """Stop the loop after the pass in progress (a pass is never cut in the middle)."""
        self._stopping = True
        task, self._task = self._task, None
        self.wake()
        if task is not None and task is not asyncio.current_task():
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def wake(self) -> None:
        """Look at the incidents now (after an incident opened or changed; safe from any thread)."""
        if self._wake is None or self._loop is None or self._loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._wake.set()
        else:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        """Forever: tick, then sleep until the next step or deadline (at most `max_wait`) or a wake."""
        clock = self.runtime.clock
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        if self._task is None:
            self._task = asyncio.current_task()
        while not self._stopping:
            now = clock.now()
            nxt: datetime | None = None
            try:
                if self.offload:
                    nxt = (await asyncio.to_thread(self.tick, now)).next_at
                else:
                    nxt = self.tick(now).next_at
            except Exception:
                log.exception("escalation pass failed; trying again in %s", self.max_wait)
            deadline = now + self.max_wait
            if nxt is not None and nxt < deadline:
                deadline = max(nxt, now)
            await self._sleep(deadline)

    async def _sleep(self, deadline: datetime) -> None:
        assert self._wake is not None
        if self._wake.is_set():
            self._wake.clear()
            return
        sleeper = asyncio.ensure_future(self.runtime.clock.sleep_until(deadline))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waker.cancel()
            self._wake.clear()


AlertHook = Callable[[Session, "Sequence[AlertTransition]", datetime], None]


def alert_hook(config: OpsbookConfig, *, after_commit: Callable[[], None] | None = None) -> AlertHook:
    """`hook(session, transitions, now)` for the alert paths (results, due timer, ingest): runs
    `service.on_alert_transitions` in the caller's transaction; once that transaction commits and an
    incident was opened or changed, calls `after_commit` (e.g. wake the notify worker and this engine)."""

    def hook(session: Session, transitions: Sequence[AlertTransition], now: datetime) -> None:
        if not transitions:
            return
        changed = service.on_alert_transitions(session, config, transitions, now)
        if changed and after_commit is not None:
            callback = after_commit

            def fire(_session: Session) -> None:
                with contextlib.suppress(Exception):
                    callback()

            event.listen(session, "after_commit", fire, once=True)

    return hook
