"""Benchmark: opsbook against Prometheus' blackbox_exporter, probing the same local HTTP target.

    .venv/bin/python bench/blackbox.py [--rate 1000] [--seconds 20] [--rounds 3] [--flat-checks 3000]

Needs `prometheus-blackbox-exporter` (Debian package). One aiohttp target server runs on core 0. In
alternating runs, each tool runs alone on core 1 (`taskset -c 1`; Go then uses GOMAXPROCS=1):

- opsbook: the real pipeline (scheduler, HTTP probes with a fresh connection each, the writer into a
  fresh SQLite database, a `p95(latency_ms) > 500 for 5m` rule per 100-check service evaluated on every
  result, rollups), in a child process;
- blackbox_exporter: its `http_2xx` module probing the same target, each probe one `/probe?target=...`
  request sent from this process on core 0 over kept-alive connections (as Prometheus scrapes it).

Two figures per tool and round: CPU per 1,000 probes at a fixed offered rate (`--rate`/s), and the rate
each reaches flat out on its one core (opsbook: `--flat-checks` checks every second; blackbox: 256
probes in flight). Printed: every round, median and spread, the ratios opsbook ÷ blackbox, the load
average. The target and the load generator share core 0; the figures say when core 0 was the limit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from checks import config_text, serve  # bench/checks.py: the target server and the checks' config
from support import free_port, wait_port  # bench/support.py, beside this script

EXPORTER = "prometheus-blackbox-exporter"
MODULES = """modules:
  http_2xx:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
"""


def pinned_target(port: int) -> None:
    os.sched_setaffinity(0, {0})
    serve(port)


def cpu_of(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system)


# --- opsbook, in a child process pinned to core 1 ---------------------------------------------------


async def opsbook_child(checks: int, seconds: float, target: int, target_pid: int) -> dict[str, float]:
    from opsbook.config.loader import parse_config
    from opsbook.db.engine import make_engine, make_sessionmaker
    from opsbook.db.migrate import upgrade
    from opsbook.pipeline import Pipeline
    from opsbook.runtime import Runtime

    engine = make_engine(f"sqlite:///{tempfile.mkdtemp(prefix='opsbook-bench-bb-')}/b.db")
    upgrade(engine)
    loaded = parse_config(config_text(checks, 1.0, target, False, p95_rule=True), "bench.yaml", {})
    runtime = Runtime(loaded=loaded, engine=engine, sessions=make_sessionmaker(engine))
    pipeline = Pipeline(runtime)
    proc, server = psutil.Process(), psutil.Process(target_pid)
    await pipeline.start()
    await asyncio.sleep(5)  # warm-up: every check has run a few times
    written0 = pipeline.writer.written + pipeline.writer.pending
    cpu0, server0, t0 = cpu_of(proc), cpu_of(server), time.perf_counter()
    await asyncio.sleep(seconds)
    elapsed = time.perf_counter() - t0
    runs = pipeline.writer.written + pipeline.writer.pending - written0
    cpu, target_cpu = cpu_of(proc) - cpu0, cpu_of(server) - server0
    await pipeline.stop()
    return {"runs": runs, "elapsed": elapsed, "cpu": cpu, "target_cpu": target_cpu}


def run_opsbook(checks: int, seconds: float, target: int, target_pid: int) -> dict[str, float]:
    out = subprocess.run(
        ["taskset", "-c", "1", sys.executable, __file__, "--child", str(checks), str(seconds), str(target),
         str(target_pid)],
        check=True, capture_output=True, text=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


# --- blackbox_exporter pinned to core 1, driven from here -----------------------------------------


async def drive(port: int, target: int, seconds: float, rate: float, inflight: int) -> tuple[int, int, float]:
    """Probes through the exporter: paced to `rate`/s (0: closed loop); (ok, failed, elapsed)."""
    ok = failed = 0
    stop = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=inflight)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker(n: int) -> None:
            nonlocal ok, failed
            gap = inflight / rate if rate else 0.0
            slot = time.perf_counter() + gap * n / inflight
            i = n
            while time.perf_counter() < stop:
                if gap:
                    slot += gap
                    await asyncio.sleep(max(0.0, slot - time.perf_counter()))
                url = f"http://127.0.0.1:{port}/probe?module=http_2xx&target=http://127.0.0.1:{target}/c{i}"
                async with session.get(url) as r:
                    body = await r.text()
                if "probe_success 1" in body:
                    ok += 1
                else:
                    failed += 1
                i += inflight

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(n) for n in range(inflight)))
        return ok, failed, time.perf_counter() - t0


def run_blackbox(
    exe: str, config: Path, target: int, target_pid: int, seconds: float, rate: float
) -> dict[str, float]:
    port = free_port()
    exporter = subprocess.Popen(
        ["taskset", "-c", "1", exe, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}",
         "--log.level=error"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port)
        proc = psutil.Process(exporter.pid)
        asyncio.run(drive(port, target, 3, rate or 500, 64))  # warm-up
        me, server = psutil.Process(), psutil.Process(target_pid)
        cpu0, mine0, server0 = cpu_of(proc), cpu_of(me), cpu_of(server)
        ok, failed, elapsed = asyncio.run(drive(port, target, seconds, rate, 64 if rate else 256))
        return {"runs": ok, "failed": failed, "elapsed": elapsed, "cpu": cpu_of(proc) - cpu0,
                "driver_cpu": cpu_of(me) - mine0, "target_cpu": cpu_of(server) - server0}
    finally:
        exporter.terminate()
        exporter.wait(10)


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):,.0f} (min {min(values):,.0f}, max {max(values):,.0f})"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        checks, seconds, target, pid = (int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]),
                                        int(sys.argv[5]))
        print(json.dumps(asyncio.run(opsbook_child(checks, seconds, target, pid))))
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=int, default=1000, help="fixed offered rate, checks/s")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--flat-checks", type=int, default=3000, help="opsbook's offered load flat out")
    args = parser.parse_args()
    exe = shutil.which(EXPORTER)
    if exe is None:
        raise SystemExit(f"{EXPORTER} is not installed (apt-get install {EXPORTER})")
    os.sched_setaffinity(0, {0})
    target = free_port()
    server = multiprocessing.Process(target=pinned_target, args=(target,), daemon=True)
    server.start()
    wait_port(target)
    config = Path(tempfile.mkdtemp(prefix="opsbook-bench-bb-")) / "blackbox.yml"
    config.write_text(MODULES)
    rows: dict[str, list[dict[str, Any]]] = {"ops fixed": [], "bb fixed": [], "ops flat": [], "bb flat": []}
    loads = []
    try:
        for n in range(args.rounds):
            loads.append(os.getloadavg()[0])
            pid = server.pid or 0
            rows["ops fixed"].append(run_opsbook(args.rate, args.seconds, target, pid))
            rows["bb fixed"].append(run_blackbox(exe, config, target, pid, args.seconds, args.rate))
            rows["ops flat"].append(run_opsbook(args.flat_checks, args.seconds, target, pid))
            rows["bb flat"].append(run_blackbox(exe, config, target, pid, args.seconds, 0))
            for name, runs in rows.items():
                r = runs[-1]
                driver = r.get("driver_cpu")
                extra = f"; core 0: target {r['target_cpu'] / r['elapsed'] * 100:.0f}%"
                extra += f", load generator {driver / r['elapsed'] * 100:.0f}%" if driver else ""
                print(f"round {n + 1} {name:<10} {r['runs'] / r['elapsed']:7,.0f}/s  "
                      f"{r['cpu'] / r['elapsed'] * 100:4.0f}% cpu  "
                      f"{r['cpu'] / r['runs'] * 1e6:6,.0f} ms per 1,000{extra}", flush=True)
    finally:
        server.terminate()
    per_k = {k: [r["cpu"] / r["runs"] * 1e6 for r in v] for k, v in rows.items()}
    rate = {k: [r["runs"] / r["elapsed"] for r in v] for k, v in rows.items()}
    print(f"fixed rate {args.rate}/s, CPU ms per 1,000 checks: opsbook {spread(per_k['ops fixed'])}, "
          f"blackbox {spread(per_k['bb fixed'])}")
    print(f"flat out on one core, checks/s: opsbook {spread(rate['ops flat'])}, "
          f"blackbox {spread(rate['bb flat'])}")
    cpu_ratio = [o / b for o, b in zip(per_k["ops fixed"], per_k["bb fixed"], strict=True)]
    rate_ratio = [o / b for o, b in zip(rate["ops flat"], rate["bb flat"], strict=True)]
    print("ratios (opsbook / blackbox, per round): CPU per check "
          f"{', '.join(f'{x:.2f}' for x in cpu_ratio)}; "
          f"rate per core {', '.join(f'{x:.2f}' for x in rate_ratio)}")
    print(f"load average at each round's start: {', '.join(f'{x:.1f}' for x in loads)}; "
          f"machine {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
