"""Benchmark: status page requests/s from one opsbook server while it runs 1,000 checks.

    .venv/bin/python bench/statuspage.py [--checks 1000] [--interval 10] [--seconds 15] [--concurrency 64]
                                         [--max-requests 200000] [--path /status] [--rate 2000]

Processes, all on 127.0.0.1:
- an aiohttp server the checks probe (HTTP, one URL per check);
- opsbook: `opsbook serve` on a generated opsbook.yaml (one public service with every check), with the web
  UI and status page mounted (mount_ui; added here if the running create_app does not mount it yet);
- this process: an aiohttp load generator, bounded by --seconds and --max-requests.

Phases of --seconds each: quiet (no readers); saturated (readers in a closed loop on --path); paced
(readers offering --rate req/s in all). The checks'
scheduling lag in each phase is read from opsbook's /metrics (opsbook_scheduler_lag_seconds histogram):
mean and an upper bound of p99 (bucket edge). Printed: req/s, reader latency p50/p99, lag both phases.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from support import free_port, wait_port  # bench/support.py, beside this script


def target(port: int) -> None:
    async def ok(_request: web.Request) -> web.Response:
        return web.Response(text='{"status":"ok"}', content_type="application/json")

    app = web.Application()
    app.router.add_get("/{tail:.*}", ok)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, backlog=4096)


SERVER = """
import sys, uvicorn
from opsbook.runtime import open_runtime
from opsbook.web.app import create_app
runtime = open_runtime(sys.argv[1])
app = create_app(runtime)
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_config=None, access_log=False)
"""


def config_text(checks: int, interval: float, port: int, db: str, refresh: float) -> str:
    lines = [
        f"database_url: {db}",
        "scheduler: {concurrency: 500, batch_size: 2000, flush_interval: 1s}",
        f"status_page: {{title: Bench status, refresh: {refresh:g}s}}",
        "server: {public_metrics: true}",
        "services:",
        "  - name: bench",
        "    public: true",
        "    checks:",
    ]
    for i in range(checks):
        lines += [
            f"      - name: c{i}",
            "        kind: http",
            f"        url: http://127.0.0.1:{port}/c{i}",
            f"        interval: {interval:g}s",
            "        timeout: 5s",
        ]
    return "\n".join(lines) + "\n"


async def lag_histogram(session: aiohttp.ClientSession, base: str) -> dict[str, float]:
    """Cumulative bucket counts (by upper edge), sum and count of the scheduler lag histogram."""
    async with session.get(f"{base}/metrics") as r:
        text = await r.text()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("opsbook_scheduler_lag_seconds_bucket"):
            edge = line.split('le="')[1].split('"')[0]
            out[edge] = float(line.rsplit(" ", 1)[1])
        elif line.startswith("opsbook_scheduler_lag_seconds_sum"):
            out["sum"] = float(line.rsplit(" ", 1)[1])
        elif line.startswith("opsbook_scheduler_lag_seconds_count"):
            out["count"] = float(line.rsplit(" ", 1)[1])
    return out


def lag_between(a: dict[str, float], b: dict[str, float]) -> tuple[float, float, float]:
    """(runs, mean lag s, p99 upper bound s) of the runs between two histogram readings."""
    runs = b.get("count", 0) - a.get("count", 0)
    if runs <= 0:
        return 0, float("nan"), float("nan")
    mean = (b["sum"] - a.get("sum", 0)) / runs
    edges = sorted((float(e) if e != "+Inf" else float("inf"), e) for e in b if e not in ("sum", "count"))
    p99 = float("inf")
    for value, key in edges:
        if b[key] - a.get(key, 0) >= 0.99 * runs:
            p99 = value
            break
    return runs, mean, p99


async def load(
    base: str, path: str, seconds: float, concurrency: int, limit: int, rate: float = 0
) -> tuple[int, float, list[float]]:
    """Readers in a closed loop (or each paced to rate/concurrency req/s); returns (requests, elapsed s,
    latencies s)."""
    done = 0
    latencies: list[float] = []
    stop = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def reader(n: int) -> None:
            nonlocal done
            gap = concurrency / rate if rate else 0.0
            slot = time.perf_counter() + gap * n / concurrency
            while time.perf_counter() < stop and done < limit:
                if gap:
                    slot += gap
                    await asyncio.sleep(max(0.0, slot - time.perf_counter()))
                t = time.perf_counter()
                async with session.get(f"{base}{path}") as r:
                    await r.read()
                    if r.status != 200:
                        raise SystemExit(f"{path} answered {r.status}")
                latencies.append(time.perf_counter() - t)
                done += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(reader(n) for n in range(concurrency)))
        return done, time.perf_counter() - t0, latencies


async def bench(args: argparse.Namespace) -> None:
    tport, oport = free_port(), free_port()
    checks_target = multiprocessing.Process(target=target, args=(tport,), daemon=True)
    checks_target.start()
    wait_port(tport)
    tmp = Path(tempfile.mkdtemp(prefix="opsbook-bench-status-"))
    text = config_text(args.checks, args.interval, tport, f"sqlite:///{tmp}/b.db", args.refresh)
    (tmp / "opsbook.yaml").write_text(text)
    env = {**os.environ, "OPSBOOK_CONFIG": str(tmp / "opsbook.yaml")}
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(tmp / "opsbook.yaml"), str(oport)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_port(oport)
        base = f"http://127.0.0.1:{oport}"
        async with aiohttp.ClientSession() as session:
            await asyncio.sleep(args.interval + 2)  # every check has run once; the page has data
            async with session.get(f"{base}/status") as r:
                assert r.status == 200, await r.text()
            h0 = await lag_histogram(session, base)
            await asyncio.sleep(args.seconds)
            h1 = await lag_histogram(session, base)
            requests, elapsed, latencies = await load(
                base, args.path, args.seconds, args.concurrency, args.max_requests
            )
            h2 = await lag_histogram(session, base)
            paced, paced_elapsed, paced_latencies = await load(
                base, args.path, args.seconds, args.concurrency, args.max_requests, args.rate
            )
            h3 = await lag_histogram(session, base)
        quiet = lag_between(h0, h1)
        loaded = lag_between(h1, h2)
        at_rate = lag_between(h2, h3)
        latencies.sort()
        paced_latencies.sort()
        print(f"checks               {args.checks} http checks every {args.interval:g}s (one public service)")
        print(f"readers              {args.concurrency} concurrent, closed loop, GET {args.path}")
        print(f"status page          {requests / elapsed:,.0f} req/s ({requests} in {elapsed:.1f}s)")
        print(
            f"reader latency       p50 {statistics.median(latencies) * 1000:.1f} ms, "
            f"p99 {latencies[int(len(latencies) * 0.99)] * 1000:.1f} ms"
        )
        for label, lag in (("lag without readers", quiet), ("lag, saturated", loaded)):
            print(f"{label:<20} {lag[0]:.0f} runs, mean {lag[1] * 1000:.1f} ms, p99 <= {lag[2] * 1000:g} ms")
        print(
            f"paced readers        {paced / paced_elapsed:,.0f} req/s offered {args.rate:g}; "
            f"p50 {statistics.median(paced_latencies) * 1000:.1f} ms, "
            f"p99 {paced_latencies[int(len(paced_latencies) * 0.99)] * 1000:.1f} ms"
        )
        label, lag = "lag, paced readers", at_rate
        print(f"{label:<20} {lag[0]:.0f} runs, mean {lag[1] * 1000:.1f} ms, p99 <= {lag[2] * 1000:g} ms")
        print(f"machine              {os.cpu_count()} cores; server: uvicorn, 1 process, SQLite")
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        checks_target.terminate()


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--checks", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--path", default="/status")
    parser.add_argument("--refresh", type=float, default=30.0, help="status_page.refresh, seconds")
    parser.add_argument("--rate", type=float, default=2000.0, help="req/s of the paced phase")
    asyncio.run(bench(parser.parse_args()))


if __name__ == "__main__":
    main()
