"""How long a restore drill takes for a database of a stated size.

A fresh database is filled by `pgbench -i -s SCALE` (pgbench_accounts has 100,000 rows per scale unit,
about 15 MB of data and index per unit), dumped once with `pg_dump --format=custom`, then drilled
`--runs` times the way opsbook's drill loop does it (backups.drill.run_drill: create a scratch database,
pg_restore, two smoke queries, drop it). Prints the database and dump sizes and the drill's wall time
(the measured RTO: create, restore and smoke queries) and the whole drill with the drop, per run.

    .venv/bin/python bench/backups.py --db postgresql://postgres@127.0.0.1:PORT/postgres [--scale 10]
        [--jobs 2] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from opsbook.backups.config import BackupJob
from opsbook.backups.drill import run_drill
from opsbook.checks.kinds.postgres import libpq_dsn
from support import fresh_database  # bench/support.py, beside this script


def fill(dsn: str, scale: int) -> int:
    """pgbench's tables at `scale`; returns the database's size in bytes."""
    subprocess.run(["pgbench", "-i", "-q", "-s", str(scale), dsn], check=True,
                   capture_output=True)
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return int(row[0]) if row else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="PostgreSQL server URL (a fresh database is made there).")
    parser.add_argument("--scale", type=int, default=10, help="pgbench scale (100,000 accounts a unit).")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=1, help="pg_restore --jobs.")
    args = parser.parse_args()
    with fresh_database(args.db) as url, tempfile.TemporaryDirectory() as tmp:
        dsn = libpq_dsn(url)
        size = fill(dsn, args.scale)
        dump = Path(tmp) / "bench.dump"
        started = time.perf_counter()
        subprocess.run(["pg_dump", "--format=custom", f"--file={dump}", f"--dbname={dsn}"], check=True)
        dumped = time.perf_counter() - started
        job = BackupJob.model_validate({
            "name": "bench", "component": "bench", "schedule": "@daily", "heartbeat": {}, "rto": "1h",
            "drill": {"schedule": "@weekly", "postgres": {"dsn": url, "dump": str(dump), "jobs": args.jobs},
                      "smoke": [{"sql": "select count(*) from pgbench_accounts", "min": 100_000 * args.scale},
                                {"sql": "select true"}]},
        })
        rtos, totals = [], []
        for _ in range(args.runs):
            began = time.perf_counter()
            outcome = run_drill(job, str)
            totals.append(time.perf_counter() - began)
            if not outcome.ok or outcome.rto_s is None:
                raise SystemExit(f"drill failed: {outcome.error}")
            rtos.append(outcome.rto_s)
        print(f"database: pgbench scale {args.scale}, {100_000 * args.scale:,} accounts, "
              f"{size / 1e6:.0f} MB; dump {dump.stat().st_size / 1e6:.1f} MB made in {dumped:.1f} s")
        print(f"drill (pg_restore --jobs={args.jobs}, 2 smoke queries), {args.runs} runs:")
        print(f"  RTO measured (create + restore + smoke): median {statistics.median(rtos):.2f} s, "
              f"min {min(rtos):.2f} s, max {max(rtos):.2f} s")
        print(f"  whole drill with the drop:               median {statistics.median(totals):.2f} s")


if __name__ == "__main__":
    main()
