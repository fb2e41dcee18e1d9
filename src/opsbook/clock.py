"""Injected time: every component asks a Clock for the time and for waiting, never the system directly.

`SystemClock` is the real one. `FakeClock` is driven by tests: `await clock.advance(timedelta(minutes=5))`
moves time forward, waking every sleeper whose deadline has passed, in deadline order, so "for 5
minutes" or "escalate after 10 minutes" runs in milliseconds.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar

T = TypeVar("T")


class Clock(Protocol):
    """What components need of time: the current instant, and waiting until a later one."""

    def now(self) -> datetime:
        """The current instant, timezone-aware in UTC."""
        ...

    async def sleep_until(self, deadline: datetime) -> None:
        """Return once `now() >= deadline`."""
        ...

    async def wait_for(self, aw: Awaitable[T], timeout: float) -> T:
        """Await `aw`, raising TimeoutError if it takes longer than `timeout` seconds of this clock."""
        ...


class SystemClock:
    """The wall clock and asyncio's real timers."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, deadline: datetime) -> None:
        delay = (deadline - self.now()).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)

    async def wait_for(self, aw: Awaitable[T], timeout: float) -> T:
        return await asyncio.wait_for(aw, timeout)


class FakeClock:
    """A clock that only moves when told to; sleepers wake in deadline order as it advances."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        self._sleepers: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> datetime:
        return self._now

    async def sleep_until(self, deadline: datetime) -> None:
        if deadline <= self._now:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (deadline, next(self._seq), fut))
        await fut

    async def wait_for(self, aw: Awaitable[T], timeout: float) -> T:
        task = asyncio.ensure_future(aw)
        timer = asyncio.ensure_future(self.sleep_until(self._now + timedelta(seconds=timeout)))
        try:
            done, _ = await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
            if task in done:
                return task.result()
            task.cancel()
            raise TimeoutError(f"timed out after {timeout:g}s")
        finally:
            timer.cancel()

    async def settle(self) -> None:
        """Let every runnable task run until the loop is idle (no ready callbacks are left)."""
        loop = asyncio.get_running_loop()
        for _ in range(1000):
            await asyncio.sleep(0)
            if not getattr(loop, "_ready", True):  # asyncio's run queue; idle once only we ran
                return

    async def advance(self, delta: timedelta) -> None:
        """Move time forward by `delta`, waking sleepers one deadline at a time."""
        await self.advance_to(self._now + delta)

    async def advance_to(self, target: datetime) -> None:
        await self.settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, fut = heapq.heappop(self._sleepers)
            self._now = max(self._now, deadline)
            if not fut.done():
                fut.set_result(None)
            await self.settle()
        self._now = max(self._now, target)
        await self.settle()
