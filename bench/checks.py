"""Benchmark: N HTTP checks run by the real scheduler, results stored in the real database.

    .venv/bin/python bench/checks.py [--checks 5000] [--interval 1] [--seconds 30]
                                     [--db sqlite|URL] [--keepalive] [--p95-rule] [--p95-over MS]
                                     [--warmup S]

A fast aiohttp server runs in its own process on 127.0.0.1. opsbook's pipeline (scheduler, writer,
housekeeping) runs here on the system clock for the given time. Printed: checks/s sustained,
scheduling lag p50/p99, CPU % and CPU ms per 1,000 checks of this process, peak RSS, and the rollup
table's bytes per check per day. `--p95-rule` gives each service of 100 checks the rule
`p95(latency_ms) > 500 for 5m` (evaluated on every result, as in `serve`); `bench/footprint.py` measures
storage per kind of row properly.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import socket
import statistics
import time
from datetime import timedelta

import psutil
from aiohttp import web
from sqlalchemy import func, select, text

from opsbook.alerts.models import AlertRow
from opsbook.checks.models import ResultRow, RollupRow
from opsbook.checks.rollup import roll_up
from opsbook.config.loader import parse_config
from opsbook.db.engine import make_engine, make_sessionmaker
from opsbook.db.migrate import upgrade
from opsbook.pipeline import Pipeline
from opsbook.runtime import Runtime
from support import free_port, fresh_database  # bench/support.py, beside this script


def serve(port: int) -> None:
    async def ok(_request: web.Request) -> web.Response:
        return web.Response(text='{"status":"ok"}', content_type="application/json")

    app = web.Application()
    app.router.add_get("/{tail:.*}", ok)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, backlog=4096)


SERVICE_SIZE = 100


def config_text(
    checks: int, interval: float, port: int, keepalive: bool, p95_rule: bool = False, p95_over: float = 500
) -> str:
    lines = [
        "scheduler: {concurrency: 1000, batch_size: 2000, flush_interval: 1s}",
        "services:",
    ]
    for i in range(checks):
        if i % SERVICE_SIZE == 0:
            lines += [f"  - name: bench{i // SERVICE_SIZE}"]
            if p95_rule:
                rule = f"p95(latency_ms) > {p95_over:g} for 5m"
                lines += ["    rules:", f"      - {{name: slow, when: '{rule}'}}"]
            lines += ["    checks:"]
        lines += [
            f"      - name: c{i}",
            "        kind: http",
            f"        url: http://127.0.0.1:{port}/c{i}",
            f"        interval: {interval}",
            "        timeout: 5s",
            f"        keepalive: {'true' if keepalive else 'false'}",
        ]
    return "\n".join(lines) + "\n"


def rollup_bytes_per_check_day(runtime: Runtime, seconds: float) -> float:
    """The rollup table's bytes per check per day, scaled from a short run (an upper bound: a run shorter
    than an hour fills a day's chunk of hours partly)."""
    with runtime.sessions() as session:
        keys = session.scalar(select(func.count(func.distinct(RollupRow.check_key))))
        if not keys:
            return float("nan")
        if runtime.engine.dialect.name == "postgresql":
            size = session.scalar(text("SELECT pg_total_relation_size('check_rollups')"))
        else:
            size = session.scalar(text("SELECT SUM(pgsize) FROM dbstat WHERE name LIKE '%check_rollups%'"))
    return float(size or 0) / keys * 86400 / max(seconds, 60.0)


async def bench(args: argparse.Namespace) -> None:
    with fresh_database(args.db) as url:
        await run(args, url)


async def run(args: argparse.Namespace, url: str) -> None:
    port = free_port()
    server = multiprocessing.Process(target=serve, args=(port,), daemon=True)
    server.start()
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.1).close()
            break
        except OSError:
            time.sleep(0.05)
    engine = make_engine(url)
    upgrade(engine)
    text_ = config_text(args.checks, args.interval, port, args.keepalive, args.p95_rule, args.p95_over)
    loaded = parse_config(text_, "bench.yaml", {})
    runtime = Runtime(loaded=loaded, engine=engine, sessions=make_sessionmaker(engine))
    pipeline = Pipeline(runtime)
    lags: list[float] = []
    pipeline.scheduler.on_lag = lags.append
    proc = psutil.Process()
    target = psutil.Process(server.pid)
    await pipeline.start()
    warmup = args.warmup if args.warmup is not None else max(2.0, args.interval * 2)
    await asyncio.sleep(warmup)
    written0, lags_from = pipeline.writer.written + pipeline.writer.pending, len(lags)
    cpu0, target0 = proc.cpu_times(), target.cpu_times()
    t0 = time.perf_counter()
    peak_rss = 0
    while time.perf_counter() - t0 < args.seconds:
        await asyncio.sleep(0.5)
        peak_rss = max(peak_rss, proc.memory_info().rss)
    elapsed = time.perf_counter() - t0
    done = pipeline.writer.written + pipeline.writer.pending - written0
    cpu1, target1 = proc.cpu_times(), target.cpu_times()
    window = sorted(lags[lags_from:])
    skipped = pipeline.scheduler.stats.skipped_overlap
    await pipeline.stop()
    server.terminate()
    with runtime.sessions.begin() as session:
        raw = session.scalar(select(func.count()).select_from(ResultRow))
        firing = session.scalar(select(func.count()).select_from(AlertRow).where(AlertRow.state == "firing"))
        roll_up(session, runtime.clock.now() + timedelta(minutes=1))
    per_day = rollup_bytes_per_check_day(runtime, warmup + elapsed)
    cpu = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / elapsed * 100
    target_cpu = (target1.user + target1.system - target0.user - target0.system) / elapsed * 100
    db = "sqlite" if args.db == "sqlite" else runtime.engine.dialect.name
    mode = "keep-alive" if args.keepalive else "fresh connection per check"
    print(f"database            {db}")
    print(f"checks              {args.checks} every {args.interval:g}s ({mode})")
    offered = args.checks / args.interval
    print(f"offered             {offered:.0f} checks/s for {elapsed:.0f}s after {warmup:.0f}s warm-up")
    print(f"sustained           {done / elapsed:.0f} checks/s (results stored: {raw})")
    p50, p99 = statistics.median(window) * 1000, window[int(len(window) * 0.99)] * 1000
    print(f"lag p50 / p99       {p50:.1f} ms / {p99:.1f} ms")
    print(f"skipped (overlap)   {skipped}")
    print(f"alerts firing       {firing} at the end (a firing alert's row is updated at every evaluation)")
    print(f"cpu (opsbook)       {cpu:.0f}% of one core")
    print(f"cpu per 1,000       {cpu * 10_000 / max(done / elapsed, 1e-9):.0f} ms per 1,000 check runs"
          f"{' (p95 rule per service)' if args.p95_rule else ''}")
    print(f"cpu (http target)   {target_cpu:.0f}% of one core (the server the checks probe, same machine)")
    print(f"peak rss            {peak_rss / 2**20:.0f} MiB")
    print(f"db bytes/check/day  {per_day:,.0f} (rollups, scaled from this run)")
    print(f"machine             {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checks", type=int, default=5000)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--db", default="sqlite", help="sqlite, or a PostgreSQL URL")
    parser.add_argument("--keepalive", action="store_true")
    parser.add_argument("--p95-rule", action="store_true", help="a p95 latency rule on every service")
    parser.add_argument("--p95-over", type=float, default=500,
                        help="the rule's threshold in ms (a loaded machine's latencies can make it fire)")
    parser.add_argument("--warmup", type=float, default=None,
                        help="seconds before measuring (default 2 intervals; 300 fills a 5m rule window)")
    asyncio.run(bench(parser.parse_args()))


if __name__ == "__main__":
    main()
