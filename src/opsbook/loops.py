"""The one building block for opsbook's long-running duties, and the supervisor that watches them.

A `Loop` runs `step()` over and over. `step` does one round of work and returns when it wants to run
again (`None`: when woken, or after `max_wait`). Between rounds the loop sleeps on the injected clock
until that deadline or until someone calls `wake()`, from any thread (a committed event, a subscriber).

A round that raises is logged with its traceback, counted, and retried with exponential backoff; while
it keeps failing the loop is "down" in its `Supervisor`, which `/health` reads and which raises an alert
on opsbook itself (`on_down`). A `step` that never returns (the scheduler's own run) is fine: if it
crashes it is started again the same way.

    loop = Loop("escalation", engine.step, clock, max_wait=timedelta(seconds=30), supervisor=sup)
    loop.start(); ...; loop.wake(); ...; await loop.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from opsbook.clock import Clock

log = logging.getLogger(__name__)

Step = Callable[[], Awaitable[datetime | None]]


@dataclass
class LoopHealth:
    """How one loop is doing: failing rounds in a row, since when, and the last error (one line)."""

    name: str
    failures: int = 0
    down_since: datetime | None = None
    last_error: str = ""
    restarts: int = 0

    @property
    def up(self) -> bool:
        return self.down_since is None


DownHook = Callable[[LoopHealth], None]


class Supervisor:
    """Knows every loop of the process and whether it is up; thread-safe to read."""

    def __init__(self, on_down: DownHook | None = None, on_up: DownHook | None = None) -> None:
        self.loops: dict[str, LoopHealth] = {}
        self.on_down = on_down
        self.on_up = on_up
        self._lock = threading.Lock()

    def register(self, name: str) -> LoopHealth:
        with self._lock:
            return self.loops.setdefault(name, LoopHealth(name))

    def failed(self, health: LoopHealth, error: BaseException, now: datetime) -> None:
        with self._lock:
            health.failures += 1
            health.restarts += 1
            health.last_error = f"{type(error).__name__}: {error}"[:300]
            first = health.down_since is None
            if first:
                health.down_since = now
        if first and self.on_down is not None:
            try:
                self.on_down(health)
            except Exception:
                log.exception("reporting that loop %s is down failed", health.name)

    def succeeded(self, health: LoopHealth) -> None:
        was_down = health.down_since is not None
        with self._lock:
            health.failures = 0
            health.down_since = None
        if was_down and self.on_up is not None:
            try:
                self.on_up(health)
            except Exception:
                log.exception("reporting that loop %s is back failed", health.name)

    def down(self) -> list[LoopHealth]:
        with self._lock:
            return [h for h in self.loops.values() if not h.up]


class Loop:
    """One supervised duty: `step` in rounds, sleeping until its deadline or a `wake()`."""

    def __init__(
        self,
        name: str,
        step: Step,
        clock: Clock,
        *,
        max_wait: timedelta | None = None,
        supervisor: Supervisor | None = None,
        backoff_first: timedelta = timedelta(seconds=1),
        backoff_max: timedelta = timedelta(seconds=60),
    ) -> None:
        self.name = name
        self.step = step
        self.clock = clock
        self.max_wait = max_wait
        self.supervisor = supervisor or Supervisor()
        self.health = self.supervisor.register(name)
        self.backoff_first = backoff_first
        self.backoff_max = backoff_max
        self._event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    # --- control -------------------------------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        self._task = asyncio.create_task(self.run(), name=f"loop:{self.name}")
        return self._task

    async def stop(self, *, finish_round: bool = False) -> None:
        """Stop: cancel the round in flight, or with `finish_round` let it end first."""
        self._stopping = True
        task, self._task = self._task, None
        if task is None:
            return
        if finish_round:
            self.wake()
        else:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def wake(self) -> None:
        """Run the next round now rather than at its deadline; callable from any thread."""
        loop = self._loop
        if loop is None or loop.is_closed():
            self._event.set()
            return
        try:
            current = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        if current is loop:
            self._event.set()
        else:
            loop.call_soon_threadsafe(self._event.set)

    # --- the loop ------------------------------------------------------------------------------------

    async def run(self) -> None:
        self._loop = self._loop or asyncio.get_running_loop()
        while not self._stopping:
            self._event.clear()
            deadline = await self.run_round()
            if self._stopping:
                break
            await self.sleep_until(deadline)

    async def run_round(self) -> datetime | None:
        """One guarded round; returns when the next is due (a backoff deadline after a failure)."""
        try:
            deadline = await self.step()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("%s failed (%d in a row); trying again", self.name, self.health.failures + 1)
            self.supervisor.failed(self.health, exc, self.clock.now())
            return self.clock.now() + self._backoff()
        if not self.health.up:
            log.info("%s works again", self.name)
        self.supervisor.succeeded(self.health)
        return deadline

    def _backoff(self) -> timedelta:
        exponent = min(max(self.health.failures - 1, 0), 16)
        return min(self.backoff_first * (2**exponent), self.backoff_max)

    async def sleep_until(self, deadline: datetime | None) -> None:
        """Until `deadline` (capped at `max_wait` from now), or until `wake()`."""
        now = self.clock.now()
        if self.max_wait is not None:
            cap = now + self.max_wait
            deadline = cap if deadline is None else min(deadline, cap)
        if self._event.is_set():
            return
        if deadline is None:
            await self._event.wait()
            return
        seconds = (deadline - now).total_seconds()
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        with contextlib.suppress(TimeoutError):
            await self.clock.wait_for(self._event.wait(), seconds)


class Looped:
    """A component whose duty is one `Loop` (`self.loop`): start, stop and wake are the loop's."""

    loop: Loop
    finish_round_on_stop = False  # True: a round in progress is never cut in the middle

    def start(self) -> asyncio.Task[None]:
        return self.loop.start()

    async def stop(self) -> None:
        await self.loop.stop(finish_round=self.finish_round_on_stop)

    def wake(self) -> None:
        """Run the next round now (any thread)."""
        self.loop.wake()
