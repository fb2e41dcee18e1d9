"""Singleton duties on the real PostgreSQL: one holder at a time, taken over when the holder's session
ends (terminated, or its process killed with SIGKILL); on SQLite every duty simply runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta

from sqlalchemy import Engine

from opsbook.clock import FakeClock
from opsbook.cluster.lock import DutyLocks, lock_key
from opsbook.loops import Loop
from tests.cluster.conftest import advisory_holders, terminate
from tests.e2e.conftest import eventually


def test_lock_keys_are_stable_and_distinct() -> None:
    assert lock_key("escalation") == lock_key("escalation")
    assert lock_key("escalation") != lock_key("unmute")
    assert -(2**63) <= lock_key("housekeeping") < 2**63


def test_one_holder_and_a_takeover_when_its_session_is_killed(engines: list[Engine], pg_db: str) -> None:
    clock = FakeClock()
    first, second = (DutyLocks(engine, clock) for engine in engines)
    try:
        assert first.holds("escalation")
        assert not second.holds("escalation")
        assert second.holds("unmute")  # a free duty is taken by whoever asks first
        assert not first.holds("unmute")
        assert first.held == {"escalation"} and second.held == {"unmute"}

        terminate(pg_db, advisory_holders(pg_db) - _pids(second))
        assert second.holds("escalation")  # the holder's session ended: its lock went with it
        assert not first.holds("escalation")  # it notices on its next look and runs the duty no more
        assert first.held == frozenset()
        assert second.held == {"escalation", "unmute"}
    finally:
        first.close()
        second.close()


def test_closing_releases_every_duty(engines: list[Engine]) -> None:
    clock = FakeClock()
    first, second = (DutyLocks(engine, clock) for engine in engines)
    try:
        assert first.holds("rollups") and first.holds("retention")
        assert not second.holds("rollups")
        first.close()
        assert second.holds("rollups") and second.holds("retention")
    finally:
        second.close()


async def test_only_the_holder_runs_the_rounds(engines: list[Engine], pg_db: str) -> None:
    clock = FakeClock()
    first, second = (DutyLocks(engine, clock, retry=timedelta(seconds=5)) for engine in engines)
    rounds = {"first": 0, "second": 0}

    def counting(who: str) -> Loop:
        async def step() -> datetime | None:
            rounds[who] += 1
            return clock.now() + timedelta(seconds=1)

        return Loop("on-call notifier", step, clock)

    loops = [first.guard(counting("first")), second.guard(counting("second"))]
    for loop in loops:
        loop.start()
    try:
        await eventually(lambda: rounds["first"] + rounds["second"] > 0, "a first round")
        runner, idle = ("first", "second") if rounds["first"] else ("second", "first")
        for _ in range(3):
            await clock.advance(timedelta(seconds=5))
            await eventually(lambda: rounds[runner] > 1, "rounds of the holder")
        assert rounds[idle] == 0
        holder = first if runner == "first" else second
        await loops[0 if holder is first else 1].stop()  # the holder's process hangs, then its session dies
        assert advisory_holders(pg_db) == _pids(holder)
        terminate(pg_db, _pids(holder))
        await clock.advance(timedelta(seconds=5))  # the other tries again within `retry`
        await eventually(lambda: rounds[idle] > 0, "the other process's first round")
    finally:
        for loop in loops:
            await loop.stop()
        first.close()
        second.close()


HOLDER = """
import sys
from opsbook.clock import SystemClock
from opsbook.cluster.lock import DutyLocks
from opsbook.db.engine import make_engine
locks = DutyLocks(make_engine(sys.argv[1]), SystemClock())
print("held" if locks.holds("escalation") else "not held", flush=True)
sys.stdin.read()
"""


async def test_a_process_killed_with_sigkill_loses_its_duty(engines: list[Engine], pg_db: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, pg_db], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env=env,
    )
    locks = DutyLocks(engines[0], FakeClock())
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "held"
        assert not locks.holds("escalation")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        await eventually(lambda: locks.holds("escalation"), "the takeover after SIGKILL")
    finally:
        locks.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_on_sqlite_every_duty_simply_runs(sqlite_engine: Engine) -> None:
    clock = FakeClock()
    locks = DutyLocks(sqlite_engine, clock)

    async def step() -> datetime | None:
        return None

    loop = Loop("escalation", step, clock)
    assert locks.guard(loop).step is step
    assert locks.holds("escalation")
    assert locks.session_pid() is None  # no lock session at all


def _pids(locks: DutyLocks) -> set[int]:
    """The server process of `locks`' own session (to spare it)."""
    pid = locks.session_pid()
    return set() if pid is None else {pid}


def test_a_loop_is_guarded_once(engines: list[Engine]) -> None:
    clock = FakeClock()
    locks = DutyLocks(engines[0], clock)

    async def step() -> datetime | None:
        return None

    loop = Loop("escalation", step, clock)
    gated = locks.guard(loop).step
    assert gated is not step
    assert locks.guard(loop).step is gated  # a pipeline started again does not wrap it twice
