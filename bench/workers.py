"""bench/cluster.py's worker part: real `opsbook worker` processes sharing HTTP checks on PostgreSQL,
a target counting the probes it answers, and what the processes and the database spend."""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path

import psutil
from aiohttp import web
from bench.support import free_port, wait_port
from sqlalchemy import Engine, create_engine, text

OPSBOOK = str(Path(sys.executable).parent / "opsbook")


def _serve(port: int, hits: Synchronized[int]) -> None:
    async def ok(_request: web.Request) -> web.Response:
        hits.value += 1  # one process, one event loop: no lock needed
        return web.Response(text='{"status":"ok"}', content_type="application/json")

    app = web.Application()
    app.router.add_get("/{tail:.*}", ok)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, backlog=4096)


@contextlib.contextmanager
def target() -> Iterator[tuple[int, Synchronized[int]]]:
    """A fast HTTP target in its own process: its port and the count of probes it answered."""
    port = free_port()
    hits: Synchronized[int] = multiprocessing.Value("q", 0, lock=False)  # type: ignore[assignment]
    proc = multiprocessing.Process(target=_serve, args=(port, hits), daemon=True)
    proc.start()
    wait_port(port)
    try:
        yield port, hits
    finally:
        proc.terminate()
        proc.join()


def config(folder: Path, checks: int, port: int, lease: str = "10s") -> Path:
    lines = [f"cluster: {{lease: {lease}}}",
             "scheduler: {concurrency: 1000, batch_size: 2000, flush_interval: 1s}", "services:"]
    for i in range(checks):
        if i % 100 == 0:
            lines.append(f"  - name: bench{i // 100}\n    checks:")
        lines.append(f'      - {{name: c{i}, kind: http, url: "http://127.0.0.1:{port}/c{i}", interval: 1s, '
                     "timeout: 5s}")
    path = folder / "opsbook.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


class Workers:
    def __init__(self, cfg: Path, url: str) -> None:
        self.cfg, self.url = cfg, url
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, n: int) -> None:
        env = {**os.environ, "OPSBOOK_DATABASE_URL": self.url}
        for _ in range(n):
            name = f"w{len(self.procs) + 1}"
            self.procs.append(subprocess.Popen(
                [OPSBOOK, "worker", "-c", str(self.cfg), "--name", name], env=env,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ))

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()

    def cpu(self) -> float:
        """CPU seconds of the live workers so far."""
        total = 0.0
        for proc in self.procs:
            with contextlib.suppress(psutil.Error):
                t = psutil.Process(proc.pid).cpu_times()
                total += t.user + t.system
        return total


def held(engine: Engine) -> dict[str, int]:
    """Member name → partitions held with a valid lease."""
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT m.name, count(*) FROM check_leases l JOIN cluster_members m ON m.id = l.holder "
            "WHERE l.expires_at > now() GROUP BY m.name"))
        return {str(name): int(n) for name, n in rows}


def partitions(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(text("SELECT count(*) FROM check_leases")) or 0)


def wait_fair(engine: Engine, n: int, limit: float = 120) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        total, now = partitions(engine), held(engine)
        fair = bool(now) and max(now.values()) <= math.ceil(total / n)
        if total and len(now) == n and sum(now.values()) == total and fair:
            return
        time.sleep(0.2)
    raise SystemExit(f"{n} workers did not share the leases fairly: {held(engine)}")


def server_cpu(engine: Engine) -> float:
    """CPU seconds of the PostgreSQL server so far (the postmaster and every child of it)."""
    with engine.connect() as conn:
        backend = int(conn.scalar(text("SELECT pg_backend_pid()")) or 0)
    postmaster = psutil.Process(backend).parent()
    total = 0.0
    if postmaster is None:
        return total
    for proc in [postmaster, *postmaster.children()]:
        with contextlib.suppress(psutil.Error):
            t = proc.cpu_times()
            total += t.user + t.system
    return total


COORDINATION = ("check_leases", "cluster_members", "pg_try_advisory_lock", "SELECT $1")
"""Statements of the leases, the heartbeats and the duties' locks (SELECT 1: a held duty's look)."""


def coordination_calls(engine: Engine) -> int:
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT query, calls FROM pg_stat_statements WHERE dbid = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())"))
        return sum(int(calls) for query, calls in rows if any(k in query for k in COORDINATION))


def reset_statements(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_stat_statements_reset()"))
        conn.commit()


@dataclass
class Throughput:
    workers: int
    checks_per_s: float
    worker_cpu_ms_per_1000: float
    server_cpu_ms_per_1000: float
    coordination_per_s: float


def throughput(url: str, checks: int, counts: list[int], seconds: float, warmup: float) -> list[Throughput]:
    out = []
    engine = create_engine(url)
    with engine.connect() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_stat_statements"))
        conn.commit()
    with target() as (port, hits), tempfile.TemporaryDirectory() as folder:
        cfg = config(Path(folder), checks, port)
        for n in counts:
            workers = Workers(cfg, url)
            try:
                workers.start(n)
                wait_fair(engine, n)
                time.sleep(warmup)  # every worker's first spread-out round over
                reset_statements(engine)
                start_hits, start_cpu, start_pg = hits.value, workers.cpu(), server_cpu(engine)
                started = time.monotonic()
                time.sleep(seconds)
                took = time.monotonic() - started
                done = hits.value - start_hits
                cpu, pg = workers.cpu() - start_cpu, server_cpu(engine) - start_pg
                calls = coordination_calls(engine)
            finally:
                workers.stop()
            out.append(Throughput(n, done / took, cpu / done * 1e6, pg / done * 1e6, calls / took))
    engine.dispose()
    return out


def check_takeover(url: str, checks: int, kills: int) -> list[float]:
    """Seconds from SIGKILL of one of two workers until the survivor holds every partition."""
    out = []
    engine = create_engine(url)
    with target() as (port, _hits), tempfile.TemporaryDirectory() as folder:
        cfg = config(Path(folder), checks, port)
        for _ in range(kills):
            workers = Workers(cfg, url)
            try:
                workers.start(2)
                wait_fair(engine, 2)
                time.sleep(2.0)  # leases renewed a few times: the kill lands anywhere in a round
                victim = workers.procs[0]
                victim.send_signal(signal.SIGKILL)
                killed = time.monotonic()
                victim.wait()
                total = partitions(engine)
                while held(engine) != {"w2": total}:
                    time.sleep(0.05)
                out.append(time.monotonic() - killed)
            finally:
                workers.stop()
    engine.dispose()
    return out
