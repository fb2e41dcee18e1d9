"""Workers on PostgreSQL: how fast 1, 2 and 3 `opsbook worker` processes run checks, what coordinating
them costs, and how long a dead worker's checks and a dead holder's singleton duty stay unrun.

1. Throughput (`--checks`, `--seconds`): a fast aiohttp target in its own process counts the probes it
   answers; N HTTP checks every second (more than the workers can run) are shared by 1, 2, then 3 real
   `opsbook worker` processes. Once each holds its fair share of the leases, the probes answered per
   second over the window, the workers' CPU per 1,000 checks and the PostgreSQL server's (all of its
   processes) are measured, and the statements the leases, the heartbeats and the advisory locks cost
   (pg_stat_statements, this database only).
2. Check takeover (`--check-kills`): two workers with the default lease (10 s); one is killed with SIGKILL;
   takeover is the time until the survivor holds every partition (its checks run at their next due time
   from then: within one interval).
3. Duty takeover (`--kills`): a holder process takes the `escalation` duty's advisory lock
   (`opsbook.cluster.lock.DutyLocks`) and is killed with SIGKILL; a contender here runs a real supervised
   `Loop` guarded by the same duty on the real clock, with the default retry. Takeover is the time from
   the kill to the contender's first round. Then the cost of the look every round of a held duty makes
   (`holds`, one round trip), and of a try that finds the duty taken.

    .venv/bin/python -m bench.cluster --db postgresql://postgres@127.0.0.1:PORT/postgres \
        [--checks 3000] [--seconds 20] [--check-kills 3] [--kills 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import time
from datetime import datetime

from bench.support import fresh_database
from bench.workers import check_takeover, throughput

from opsbook.clock import SystemClock
from opsbook.cluster.lock import RETRY, DutyLocks
from opsbook.db.engine import database_url, make_engine
from opsbook.loops import Loop

HOLDER = """
import sys
from opsbook.clock import SystemClock
from opsbook.cluster.lock import DutyLocks
from opsbook.db.engine import make_engine
locks = DutyLocks(make_engine(sys.argv[1]), SystemClock())
print("held" if locks.holds("escalation") else "not held", flush=True)
sys.stdin.read()
"""


def start_holder(url: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env=env,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if line != "held":
        proc.kill()
        raise SystemExit(f"the holder did not get the duty ({line!r})")
    return proc


async def one_takeover(url: str, locks: DutyLocks, phase: float) -> float:
    """Seconds from SIGKILL of the holder to the contender's first round of the duty; the kill comes
    `phase` (0–1) of a retry period after the contender's first try."""
    clock = SystemClock()
    ran = asyncio.Event()

    async def step() -> datetime | None:
        ran.set()
        return None

    holder = await asyncio.to_thread(start_holder, url)
    loop = locks.guard(Loop("escalation", step, clock))
    loop.start()
    await asyncio.sleep(RETRY.total_seconds() * phase)
    if ran.is_set():
        raise SystemExit("the contender ran the duty while the holder held it")
    killed = time.monotonic()
    holder.send_signal(signal.SIGKILL)
    await ran.wait()
    took = time.monotonic() - killed
    await loop.stop()
    holder.wait()
    locks.close()
    return took


def look_cost(locks: DutyLocks, duty: str, n: int = 2000) -> float:
    """Microseconds per `holds(duty)`, median of `n`."""
    times = []
    for _ in range(n):
        started = time.perf_counter()
        locks.holds(duty)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", required=True, help="a PostgreSQL URL (a fresh database is made next to it)")
    parser.add_argument("--checks", type=int, default=3000, help="HTTP checks every second (0: skip)")
    parser.add_argument("--seconds", type=float, default=20.0, help="the measured window per worker count")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--check-kills", type=int, default=3)
    parser.add_argument("--kills", type=int, default=10)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    if args.checks:
        with fresh_database(args.db) as url:
            _migrate(url)
            for t in throughput(url, args.checks, [1, 2, 3], args.seconds, args.warmup):
                print(f"{t.workers} workers: {t.checks_per_s:.0f} checks/s; CPU per 1,000 checks: workers "
                      f"{t.worker_cpu_ms_per_1000:.0f} ms, PostgreSQL {t.server_cpu_ms_per_1000:.0f} ms; "
                      f"coordination {t.coordination_per_s:.1f} statements/s")
    if args.check_kills:
        with fresh_database(args.db) as url:
            _migrate(url)
            moves = check_takeover(url, 300, args.check_kills)
        print(f"checks moved after SIGKILL of one of two workers ({args.check_kills} kills, lease 10 s): "
              f"min {min(moves):.2f} s, median {statistics.median(moves):.2f} s, max {max(moves):.2f} s")
    if args.kills:
        duties(args.db, args.kills)


def _migrate(url: str) -> None:
    from opsbook.db.migrate import upgrade

    engine = make_engine(database_url(url))
    upgrade(engine)
    engine.dispose()


def duties(db: str, kills: int) -> None:
    with fresh_database(db) as url:
        url = database_url(url)
        engine, other = make_engine(url), make_engine(url)
        takeovers = []
        for i in range(kills):  # kills spread evenly over the contender's retry period
            phase = (i + 0.5) / kills
            takeovers.append(asyncio.run(one_takeover(url, DutyLocks(engine, SystemClock()), phase)))
        holder, contender = DutyLocks(engine, SystemClock()), DutyLocks(other, SystemClock())
        holder.holds("escalation")
        held_us = look_cost(holder, "escalation")
        taken_us = look_cost(contender, "escalation")
        holder.close()
        contender.close()
        engine.dispose()
        other.dispose()
    low, mid, high = min(takeovers), statistics.median(takeovers), max(takeovers)
    print(f"duty takeover after SIGKILL ({kills} kills, retry {RETRY.total_seconds():g} s): "
          f"min {low:.2f} s, median {mid:.2f} s, max {high:.2f} s")
    print(f"a round's look at a held duty: {held_us:.0f} µs; a try at a taken one: {taken_us:.0f} µs")


if __name__ == "__main__":
    main()
