"""The supervised loop: rounds on the fake clock, wake from a thread, backoff and health after a crash."""

from __future__ import annotations

import asyncio
import itertools
import threading
from datetime import datetime, timedelta

from opsbook.clock import FakeClock
from opsbook.loops import Loop, LoopHealth, Supervisor


async def test_rounds_follow_the_deadline_and_a_wake() -> None:
    clock = FakeClock()
    rounds: list[datetime] = []

    async def step() -> datetime | None:
        rounds.append(clock.now())
        return clock.now() + timedelta(minutes=10)

    loop = Loop("ticks", step, clock)
    loop.start()
    await clock.settle()
    await clock.advance(timedelta(minutes=9))
    assert len(rounds) == 1
    await clock.advance(timedelta(minutes=1))
    assert len(rounds) == 2
    thread = threading.Thread(target=loop.wake)
    thread.start()
    thread.join()
    await clock.settle()
    for _ in range(5):
        await asyncio.sleep(0)
    assert len(rounds) == 3 and rounds[-1] == rounds[-2]  # woken: no time passed
    await loop.stop()
    assert not loop.running


async def test_a_crashing_round_is_retried_with_backoff_and_reported() -> None:
    clock = FakeClock()
    calls: list[datetime] = []
    downs: list[LoopHealth] = []
    ups: list[str] = []
    sup = Supervisor(on_down=downs.append, on_up=lambda h: ups.append(h.name))

    async def step() -> datetime | None:
        calls.append(clock.now())
        if len(calls) <= 3:
            raise ZeroDivisionError("interval 0")
        return None

    loop = Loop("scheduler", step, clock, supervisor=sup, max_wait=timedelta(hours=1))
    loop.start()
    await clock.settle()
    assert [h.name for h in sup.down()] == ["scheduler"]
    assert len(downs) == 1 and "ZeroDivisionError" in downs[0].last_error
    await clock.advance(timedelta(seconds=1))
    await clock.advance(timedelta(seconds=2))
    assert len(calls) == 3 and sup.down()
    await clock.advance(timedelta(seconds=4))
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(calls)]
    assert gaps == [1, 2, 4]
    assert sup.down() == [] and ups == ["scheduler"] and len(downs) == 1
    assert loop.health.restarts == 3
    await loop.stop()
