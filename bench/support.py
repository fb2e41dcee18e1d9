"""What the benchmarks share: a free loopback port, a timing loop, and a fresh database for one run (a
SQLite file in a temporary folder, or a new PostgreSQL database next to the one the URL names, dropped
afterwards, so runs never share rows)."""

from __future__ import annotations

import contextlib
import socket
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator

from sqlalchemy import create_engine, text

from opsbook.db.engine import database_url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, seconds: float = 60) -> None:
    """Return once something listens on the loopback port (exit the benchmark if nothing does)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def timed(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    """Median and worst of `runs` calls of `fn`, in milliseconds."""
    took = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        took.append((time.perf_counter() - start) * 1000)
    return statistics.median(took), max(took)


@contextlib.contextmanager
def fresh_database(db: str) -> Iterator[str]:
    if db == "sqlite":
        yield f"sqlite:///{tempfile.mkdtemp(prefix='opsbook-bench-')}/bench.db"
        return
    server = database_url(db)
    name = f"opsbook_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
