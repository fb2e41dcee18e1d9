"""Benchmark: what a check costs in storage and memory (issue 16, footprint).

    .venv/bin/python bench/footprint.py storage [--checks 50] [--interval 60] [--db sqlite|URL]
    .venv/bin/python bench/footprint.py rss [--checks 1000] [--interval 60] [--seconds 150]

`storage` writes one day of results of N HTTP-like checks (every `interval` seconds, a status code, a
body size, a time to first byte, "200 OK" except for a few failures) twice into fresh databases: in the
form before issue 16 (migration c16a00000001: raw rows with a JSON `values`, a minute rollup row per
minute, an hour rollup row per hour) and through today's store (`write_batch` and `roll_up`). Each
table is compacted (VACUUM / VACUUM FULL) and measured with its indexes (SQLite: dbstat; PostgreSQL:
pg_total_relation_size); rollup tables are split between minutes and hours by rows (before) or by the
chunks' bytes (after). Printed: bytes per check per day of each kind of row, and the steady state for
1,000 checks with the default retention (raw 48 h, minute rollups 14 days, hour rollups 400 days).

`rss` starts `opsbook serve` (uvicorn, the pipeline, SQLite) on N HTTP checks against a local aiohttp
server and samples its resident memory with psutil after every check has run at least twice.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import sqlalchemy as sa
from sqlalchemy import text
from sqlalchemy.orm import Session

from checks import serve  # bench/checks.py: the fast aiohttp target
from opsbook.checks import compact, histogram
from opsbook.checks.models import RollupRow
from opsbook.checks.result import CheckResult, Status, StoredResult
from opsbook.checks.rollup import HOUR, MINUTE, roll_up
from opsbook.checks.store import write_batch
from opsbook.db.engine import make_engine
from opsbook.db.migrate import upgrade
from support import free_port, fresh_database  # bench/support.py, beside this script

DAY = datetime(2026, 3, 2, tzinfo=UTC)
RETENTION_DAYS = {"raw": 2, "minute": 14, "hour": 400}

OLD_RESULTS, OLD_ROLLUPS = compact.v1_tables()


def day_of_results(checks: int, interval: int, seed: int = 7) -> list[StoredResult]:
    rng = random.Random(seed)
    out = []
    for step in range(86400 // interval):
        for i in range(checks):
            ts = DAY + timedelta(seconds=step * interval + i % interval, microseconds=rng.randrange(10**6))
            latency = rng.lognormvariate(3.0, 0.5)
            values = {"status_code": 200, "body_bytes": 15, "ttfb_ms": latency * 0.8, "redirects": 0}
            if rng.random() < 0.002:
                result = CheckResult(Status.DOWN, latency, "HTTP 503 Service Unavailable",
                                     {**values, "status_code": 503})
            else:
                result = CheckResult(Status.UP, latency, "200 OK", values)
            out.append(StoredResult(f"bench/c{i}", ts, result))
    out.sort(key=lambda r: r.ts)
    return out


def write_old(url: str, results: list[StoredResult]) -> None:
    engine = make_engine(url)
    upgrade(engine, "c16a00000001")
    minutes: dict[tuple[str, int], compact.Agg] = {}
    hours: dict[tuple[str, int], compact.Agg] = {}
    with engine.begin() as conn:
        for i in range(0, len(results), 5000):
            conn.execute(OLD_RESULTS.insert(), [
                {"check_id": r.check_id, "ts": r.ts, "status": r.result.status.value,
                 "latency_ms": r.result.latency_ms, "message": r.result.message,
                 "values": dict(r.result.values)}
                for r in results[i : i + 5000]
            ])
        for r in results:
            second = compact.to_s(r.ts)
            for table, size in ((minutes, MINUTE), (hours, HOUR)):
                table.setdefault((r.check_id, second - second % size), compact.Agg()).add(
                    r.result.status.value, r.result.latency_ms)
        rows = [
            {"check_id": check, "resolution": resolution, "bucket": compact.from_s(bucket), "count": a.count,
             "failures": a.failures, "degraded": a.degraded, "latency_count": a.latency_count,
             "latency_sum": a.latency_sum, "latency_min": a.latency_min, "latency_max": a.latency_max,
             "histogram": histogram.sparse(a.hist)}
            for resolution, table in ((MINUTE, minutes), (HOUR, hours))
            for (check, bucket), a in table.items()
        ]
        for i in range(0, len(rows), 5000):
            conn.execute(OLD_ROLLUPS.insert(), rows[i : i + 5000])
    engine.dispose()


def write_new(url: str, results: list[StoredResult]) -> None:
    engine = make_engine(url)
    upgrade(engine)
    for i in range(0, len(results), 2000):
        with Session(engine) as s, s.begin():
            write_batch(s, results[i : i + 2000])
            roll_up(s, results[i].ts)  # as housekeeping does: minutes roll up as the day goes
    with Session(engine) as s, s.begin():
        roll_up(s, DAY + timedelta(days=1, minutes=1))
    engine.dispose()


def sizes(url: str) -> dict[str, int]:
    """Bytes of each table with its indexes, after compaction."""
    engine = make_engine(url)
    tables = ("check_results", "check_rollups", "check_keys")
    out: dict[str, int] = {}
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in tables:
                if conn.scalar(text("SELECT to_regclass(:t)"), {"t": table}) is None:
                    continue
                conn.execute(text(f"VACUUM FULL ANALYZE {table}"))
                out[table] = int(conn.scalar(text(f"SELECT pg_total_relation_size('{table}')")) or 0)
    else:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM"))
            index_of: dict[str, str] = dict(
                conn.execute(text("SELECT name, tbl_name FROM sqlite_master WHERE type='index'")).all()
            )
            for name, size in conn.execute(text("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name")):
                table = index_of.get(name, name)
                if table in tables:
                    out[table] = out.get(table, 0) + int(size)
    engine.dispose()
    return out


def minute_share_new(url: str) -> float:
    """The share of the rollup table's data bytes that are minute chunks."""
    engine = make_engine(url)
    with Session(engine) as s:
        query = sa.select(RollupRow.resolution, sa.func.sum(sa.func.length(RollupRow.data)))
        by: dict[int, int] = dict(s.execute(query.group_by(RollupRow.resolution)).all())
    engine.dispose()
    total = sum(by.values()) or 1
    return float(by.get(MINUTE, 0)) / float(total)


def storage(args: argparse.Namespace) -> None:
    results = day_of_results(args.checks, args.interval)
    per_day = 86400 // args.interval
    report: dict[str, dict[str, float]] = {}
    for form in ("before", "after"):
        with fresh_database(args.db) as url:
            t0 = time.perf_counter()
            (write_old if form == "before" else write_new)(url, results)
            took = time.perf_counter() - t0
            size = sizes(url)
            if form == "before":
                minute_rows, hour_rows = args.checks * 1440, args.checks * 24
                minute_share = minute_rows / (minute_rows + hour_rows)
            else:
                minute_share = minute_share_new(url)
            rollup = size.get("check_rollups", 0)
            report[form] = {
                "raw": size["check_results"] / args.checks,
                "minute": rollup * minute_share / args.checks,
                "hour": rollup * (1 - minute_share) / args.checks,
                "keys": size.get("check_keys", 0) / args.checks,
                "write_s": took,
            }
    dialect = "sqlite" if args.db == "sqlite" else "postgresql"
    print(f"database              {dialect}; {args.checks} checks every {args.interval}s for one day "
          f"({per_day:,} results each)")
    print(f"{'bytes/check/day':<22}{'before':>12}{'after':>12}")
    for kind in ("raw", "minute", "hour"):
        print(f"{kind + ' rows':<22}{report['before'][kind]:>12,.0f}{report['after'][kind]:>12,.0f}")
    print(f"{'check_keys (once)':<22}{0:>12}{report['after']['keys']:>12,.0f}")
    for form in ("before", "after"):
        r = report[form]
        steady = sum(r[k] * RETENTION_DAYS[k] for k in ("raw", "minute", "hour")) + r["keys"]
        print(f"steady state {form:<7}  {steady / 1e6:,.2f} MB per check, {steady * 1000 / 1e9:,.2f} GB "
              f"for 1,000 checks (raw 2 d, minutes 14 d, hours 400 d); written in {r['write_s']:.1f}s")


def rss(args: argparse.Namespace) -> None:
    tport, oport = free_port(), free_port()
    target = multiprocessing.Process(target=serve, args=(tport,), daemon=True)
    target.start()
    tmp = Path(tempfile.mkdtemp(prefix="opsbook-bench-rss-"))
    lines = [f"database_url: sqlite:///{tmp}/b.db", "services:"]
    for i in range(args.checks):
        if i % 100 == 0:
            lines += [f"  - name: s{i // 100}", "    rules:",
                      "      - {name: slow, when: 'p95(latency_ms) > 500 for 5m'}", "    checks:"]
        lines += [f"      - {{name: c{i}, kind: http, url: 'http://127.0.0.1:{tport}/c{i}', "
                  f"interval: {args.interval}s, timeout: 5s}}"]
    (tmp / "opsbook.yaml").write_text("\n".join(lines) + "\n")
    opsbook = str(Path(sys.executable).parent / "opsbook")
    subprocess.run([opsbook, "db", "upgrade", "-c", str(tmp / "opsbook.yaml")], check=True,
                   stdout=subprocess.DEVNULL)
    server = subprocess.Popen([opsbook, "serve", "-c", str(tmp / "opsbook.yaml"), "--port", str(oport)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    proc = psutil.Process(server.pid)
    samples: list[tuple[float, int]] = []
    try:
        t0 = time.monotonic()
        while time.monotonic() - t0 < args.seconds:
            time.sleep(5)
            if server.poll() is not None:
                error = server.stderr.read().decode()[-2000:] if server.stderr else ""
                raise SystemExit(f"serve exited: {error}")
            samples.append((time.monotonic() - t0, proc.memory_info().rss))
    finally:
        server.terminate()
        server.wait(20)
        target.terminate()
    start = [r for t, r in samples if t <= 10]
    late = [r for t, r in samples if t >= args.seconds - 30]
    print(f"checks            {args.checks} http checks every {args.interval}s, "
          "a p95 rule per 100-check service")
    print(f"rss at start      {min(start) / 2**20:.0f} MiB (first 10 s)")
    print(f"rss steady        {max(late) / 2**20:.0f} MiB (max of the last 30 s of {args.seconds:.0f} s)")
    print(f"machine           {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=("storage", "rss"))
    parser.add_argument("--checks", type=int, default=None)
    parser.add_argument("--interval", type=int, default=60)
    parser.add_argument("--db", default="sqlite", help="sqlite, or a PostgreSQL URL (storage)")
    parser.add_argument("--seconds", type=float, default=150.0, help="how long serve runs (rss)")
    args = parser.parse_args()
    if args.what == "storage":
        args.checks = args.checks or 50
        storage(args)
    else:
        args.checks = args.checks or 1000
        rss(args)


if __name__ == "__main__":
    main()
