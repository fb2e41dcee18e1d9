"""Benchmark: PagerDuty Events API v2 events per second accepted by one real `opsbook serve`.

    .venv/bin/python bench/ingest.py [--seconds 10] [--concurrency 32] [--keys 500] [--db sqlite|URL]

Starts `opsbook serve` as its own process on 127.0.0.1 with a routing key, then posts trigger events
(a pool of `--keys` dedup keys, so most events are deduplicated against an open alert) from
`--concurrency` connections for a bounded time, with `wrk` (Debian's package) when it is installed
(`--tool wrk`, a C load generator that leaves the CPU to opsbook) or with aiohttp. Printed: events
accepted per second (202), errors, and request latency p50/p99.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from support import free_port, fresh_database  # bench/support.py, beside this script

KEY = "bench-routing-key-0123456789abcdef"


async def load(base: str, seconds: float, concurrency: int, keys: int) -> tuple[int, int, list[float]]:
    ok = errors = 0
    latencies: list[float] = []
    stop = time.perf_counter() + seconds
    async with aiohttp.ClientSession() as http:

        async def worker() -> None:
            nonlocal ok, errors
            while time.perf_counter() < stop:
                event = {
                    "routing_key": KEY,
                    "event_action": "trigger",
                    "dedup_key": f"disk-{random.randrange(keys)}",
                    "payload": {"summary": "Disk almost full", "source": "grafana", "severity": "warning"},
                }
                started = time.perf_counter()
                async with http.post(f"{base}/api/v1/events/pagerduty", json=event) as reply:
                    await reply.read()
                    if reply.status == 202:
                        ok += 1
                    else:
                        errors += 1
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ok, errors, latencies


WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  local body = string.format('{"routing_key":"%s","event_action":"trigger","dedup_key":"disk-%d",'
    .. '"payload":{"summary":"Disk almost full","source":"grafana","severity":"warning"}}',
    "KEY", math.random(0, KEYS - 1))
  return wrk.format(nil, nil, nil, body)
end
"""


def run_wrk(base: str, seconds: float, concurrency: int, keys: int, tmp: Path) -> str:
    script = tmp / "ingest.lua"
    script.write_text(WRK_SCRIPT.replace("KEYS", str(keys)).replace('"KEY"', f'"{KEY}"'))
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{concurrency}",
            f"-d{int(seconds)}s",
            "--latency",
            "-s",
            str(script),
            f"{base}/api/v1/events/pagerduty",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--keys", type=int, default=500)
    parser.add_argument("--db", default="sqlite")
    parser.add_argument(
        "--tool", choices=["wrk", "aiohttp"], default="wrk" if shutil.which("wrk") else "aiohttp"
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="opsbook-bench-"))
    config = tmp / "opsbook.yaml"
    config.write_text(f"services:\n  - name: grafana\nalerting:\n  routing_keys:\n    grafana: {KEY}\n")
    with fresh_database(args.db) as db:
        measure(args, tmp, config, db)


def measure(args: argparse.Namespace, tmp: Path, config: Path, db: str) -> None:
    port = free_port()
    env = {**os.environ, "OPSBOOK_DATABASE_URL": db}
    opsbook = str(Path(sys.executable).parent / "opsbook")
    proc = subprocess.Popen(
        [opsbook, "serve", "-c", str(config), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), 0.1).close()
                break
            except OSError:
                time.sleep(0.1)
        if args.tool == "wrk":
            report = run_wrk(f"http://127.0.0.1:{port}", args.seconds, args.concurrency, args.keys, tmp)
        else:
            ok, errors, latencies = asyncio.run(
                load(f"http://127.0.0.1:{port}", args.seconds, args.concurrency, args.keys)
            )
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    if args.tool == "wrk":
        print(f"database          {'sqlite' if args.db == 'sqlite' else 'postgresql'}; load from wrk")
        print(report)
        return
    q = statistics.quantiles(latencies, n=100)
    print(f"database          {'sqlite' if args.db == 'sqlite' else 'postgresql'}")
    print(f"events accepted   {ok / args.seconds:.0f}/s ({ok} in {args.seconds:g}s, {errors} errors)")
    print(f"dedup keys        {args.keys} (every other event updates an open alert)")
    print(
        f"latency p50/p99   {q[49] * 1000:.1f} ms / {q[98] * 1000:.1f} ms at concurrency {args.concurrency}"
    )


if __name__ == "__main__":
    main()
