"""Benchmark: alert latency, from the result that makes a rule fire to the notification accepted by a
local webhook receiver (through the real writer, alert engine, outbox, delivery worker and Apprise).

    .venv/bin/python bench/alerts.py [--alerts 300] [--seconds 20] [--flush 1s] [--db sqlite|URL]

Each of N checks gets one failing result at a random instant over the run; its rule (`failures >= 1`,
P0: no grouping delay) fires on it. The receiver runs in its own process and records when each message
arrives. Printed: p50/p95/p99/max latency, and how many alerts arrived.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import re
import statistics
import time
from datetime import UTC, datetime
from multiprocessing.queues import Queue
from typing import Any

from aiohttp import web

from opsbook.checks.result import CheckResult, StoredResult
from opsbook.config.loader import parse_config
from opsbook.db.engine import make_engine, make_sessionmaker
from opsbook.db.migrate import upgrade
from opsbook.pipeline import Pipeline
from opsbook.runtime import Runtime
from support import free_port, fresh_database  # bench/support.py, beside this script


def receiver(port: int, arrivals: Queue[Any]) -> None:
    async def hook(request: web.Request) -> web.Response:
        body = await request.json()
        arrivals.put((time.time(), f"{body.get('title', '')}\n{body.get('message', '')}"))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def config_text(alerts: int, port: int, flush: str) -> str:
    lines = [
        f"scheduler: {{flush_interval: {flush}}}",
        "alerting: {default_severity: P0, default_failures: 1}",
        "channels:",
        f"  - {{name: hook, url: 'json://127.0.0.1:{port}/hook'}}",
        "services:",
        "  - name: bench",
        "    checks:",
    ]
    lines += [f"      - {{name: c{i}, kind: heartbeat, period: 1d}}" for i in range(alerts)]
    return "\n".join(lines) + "\n"


async def bench(args: argparse.Namespace) -> None:
    with fresh_database(args.db) as url:
        await run(args, url)


async def run(args: argparse.Namespace, url: str) -> None:
    port = free_port()
    arrivals: Queue[Any] = multiprocessing.Queue()
    proc = multiprocessing.Process(target=receiver, args=(port, arrivals), daemon=True)
    proc.start()
    engine = make_engine(url)
    upgrade(engine)
    loaded = parse_config(config_text(args.alerts, port, args.flush), "bench.yaml", {})
    pipeline = Pipeline(Runtime(loaded=loaded, engine=engine, sessions=make_sessionmaker(engine)))
    await pipeline.start()
    sent: dict[str, float] = {}
    order = list(range(args.alerts))
    random.shuffle(order)
    start = time.time()
    for n, i in enumerate(order):
        target = start + args.seconds * n / args.alerts
        await asyncio.sleep(max(0.0, target - time.time()))
        sent[f"bench/c{i}"] = time.time()
        pipeline.record(StoredResult(f"bench/c{i}", datetime.now(UTC), CheckResult.down("bench failure")))
    got: dict[str, float] = {}
    deadline = time.time() + 60
    while len(got) < args.alerts and time.time() < deadline:
        while not arrivals.empty():
            when, text = arrivals.get()  # one message may carry several alerts (grouped delivery)
            for check_id in re.findall(r"bench/c\d+", text):
                got.setdefault(check_id, when)
        await asyncio.sleep(0.05)
    await pipeline.stop()
    proc.terminate()
    latencies = sorted(got[k] - sent[k] for k in got)
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    db = "sqlite" if args.db == "sqlite" else engine.dialect.name
    print(f"database          {db}, writer flush interval {args.flush}")
    print(f"alerts            {len(got)} of {args.alerts} delivered over {args.seconds:g}s")
    print(f"latency p50       {q[49] * 1000:.0f} ms")
    print(f"latency p95       {q[94] * 1000:.0f} ms")
    print(f"latency p99       {q[98] * 1000:.0f} ms")
    print(f"latency max       {latencies[-1] * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--alerts", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--flush", default="250ms", help="the writer's flush interval (scheduler.flush_interval)"
    )
    parser.add_argument("--db", default="sqlite", help="sqlite, or a PostgreSQL URL")
    asyncio.run(bench(parser.parse_args()))


if __name__ == "__main__":
    main()
