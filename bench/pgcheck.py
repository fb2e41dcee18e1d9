"""What the `postgres` check's measurements cost, and what a capacity forecast costs.

A fresh database with `--tables` tables (each with a primary key, two indexes and 1,000 rows) and
pg_stat_statements; the check's probe is run `--runs` times with each measurement set, one after the
other: wall time per run (p50 / p95, a fresh connection each, as the check runs) and opsbook's CPU per
run. Then a Theil–Sen fit of 14 days of hourly points (336) and of 1,000 points.

    .venv/bin/python bench/pgcheck.py --db postgresql://postgres@127.0.0.1:PORT/postgres [--tables 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from bench.support import fresh_database

from opsbook.capacity.forecast import fit
from opsbook.checks.kinds.postgres import PostgresCheck, libpq_dsn
from opsbook.checks.kinds.probes.postgres import probe
from opsbook.checks.spec import RunContext
from opsbook.clock import SystemClock

SETS: dict[str, list[str]] = {
    "SELECT 1": [],
    "connections, long_queries": ["connections", "long_queries"],
    "all but statements": ["connections", "long_queries", "locks", "tables", "indexes", "cache", "wraparound",
                           "replication", "size"],
    "all": ["all"],
}


def populate(dsn: str, tables: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        for i in range(tables):
            conn.execute(f"CREATE TABLE t{i} (id int PRIMARY KEY, a int, b text)")
            conn.execute(f"INSERT INTO t{i} SELECT g, g % 97, 'x' || g FROM generate_series(1, 1000) g")  # noqa: S608
            conn.execute(f"CREATE INDEX t{i}_a ON t{i} (a)")
            conn.execute(f"CREATE INDEX t{i}_b ON t{i} (b)")
        conn.execute("ANALYZE")


async def measure(dsn: str, parts: list[str], runs: int) -> dict[str, Any]:
    check = PostgresCheck.model_validate({"kind": "postgres", "name": "bench", "dsn": dsn, "measure": parts})
    ctx = RunContext(clock=SystemClock())
    await probe(check, ctx)  # warm: the statements' first sample
    walls: list[float] = []
    cpu0 = time.process_time()
    for _ in range(runs):
        started = time.perf_counter()
        result = await probe(check, ctx)
        walls.append((time.perf_counter() - started) * 1000)
        assert result.ok, result.message
    cpu = (time.process_time() - cpu0) / runs * 1000
    quantiles = statistics.quantiles(walls, n=20)
    return {"p50": statistics.median(walls), "p95": quantiles[18], "cpu": cpu, "values": len(result.values)}


def forecast_cost(points: int) -> float:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    started = time.perf_counter()
    for run in range(5):  # other points each time: the fit of the same points is cached
        series = [(now - timedelta(hours=points - i), 50 + run + i / 24) for i in range(points)]
        fit(series, now, timedelta(days=3650), timedelta(days=1))
    return (time.perf_counter() - started) / 5 * 1000


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", required=True, help="a PostgreSQL URL (a fresh database is made next to it)")
    parser.add_argument("--tables", type=int, default=200)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    with fresh_database(args.db) as url:
        dsn = libpq_dsn(url)
        populate(dsn, args.tables)
        print(f"{args.tables} tables, {args.runs} runs per set")
        print("| measure | values | wall p50 / p95 | opsbook CPU / run |")
        print("| --- | --- | --- | --- |")
        for name, parts in SETS.items():
            m = await measure(dsn, parts, args.runs)
            print(f"| {name} | {m['values']} | {m['p50']:.1f} / {m['p95']:.1f} ms | {m['cpu']:.1f} ms |")
    for points in (336, 1000):
        print(f"Theil–Sen fit of {points} points: {forecast_cost(points):.1f} ms (uncached)")


if __name__ == "__main__":
    asyncio.run(main())
