"""Benchmark: what probing from several locations costs in the result writer (issue 16, locations).

    .venv/bin/python bench/locations.py [--db sqlite|URL] [--checks 500] [--rounds 10]

Writes `rounds` intervals of results of N checks, each with a `failures >= 3` rule and a
`p95(latency_ms) > 500 for 5m` rule, in two forms into fresh databases, the way a worker's result writer
does (one transaction per batch: store, then evaluate the batch's checks):

- plain: the checks without locations, one result per check per interval (`checks.store.write_batch`);
- located: the same checks with `locations: [eu, us, ap]`, each location's results in a batch of their
  own (as each location's worker writes them), through `LocatedStore.write` (each location's result
  under its unit, the check's verdict: the state rows locked, the locations' newest results read).

Printed: wall milliseconds spent by the writer per 1,000 check intervals (a check run once, or once
from each of three locations; storing and evaluating apart, from the second interval on: the first
numbers the checks and makes their states), and the rows each kind stores per check and interval.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from opsbook.alerts.service import AlertEngine
from opsbook.checks.models import ResultRow
from opsbook.checks.result import CheckResult, StoredResult
from opsbook.checks.store import BatchOutcome, write_batch
from opsbook.config.loader import parse_config
from opsbook.db.engine import make_engine, make_sessionmaker
from opsbook.db.migrate import upgrade
from opsbook.locations.combine import LocatedStore
from support import fresh_database  # bench/support.py, beside this script

START = datetime(2026, 3, 2, tzinfo=UTC)
WHERE = ("eu", "us", "ap")


def config(checks: int, located: bool) -> str:
    extra = ", locations: [eu, us, ap]" if located else ""
    lines = [f"      - {{name: c{i}, kind: tcp, host: 127.0.0.1, port: 1, interval: 60s{extra}}}"
             for i in range(checks)]
    return ("alerting: {default_failures: 3}\nservices:\n  - name: s\n    rules:\n"
            "      - {name: slow, when: \"p95(latency_ms) > 500 for 5m\"}\n    checks:\n" + "\n".join(lines))


def run(url: str, checks: int, rounds: int, located: bool) -> tuple[float, float, int, int]:
    """(write ms, evaluation ms) per 1,000 check intervals after the first; probe results; rows stored."""
    engine = make_engine(url)
    upgrade(engine)
    sessions: sessionmaker[Session] = make_sessionmaker(engine)
    cfg = parse_config(config(checks, located), "opsbook.yaml", {}).config
    alerts = AlertEngine(cfg)
    store: Callable[[Session, Sequence[StoredResult]], BatchOutcome] = (
        LocatedStore(cfg.checks()).write if located else write_batch)
    wrote = evaluated = 0.0
    probes = 0
    for r in range(rounds):
        batches: list[list[StoredResult]] = []
        for k, where in enumerate(WHERE if located else ("",)):
            batches.append([
                StoredResult(f"s/c{i}@{where}" if located else f"s/c{i}",
                             START + timedelta(minutes=r, seconds=10 * k, microseconds=i),
                             CheckResult.up(40.0 + i % 50 + k))
                for i in range(checks)
            ])
        for batch in batches:
            now = batch[-1].ts
            with sessions.begin() as session:
                t0 = time.perf_counter()
                outcome = store(session, batch)
                t1 = time.perf_counter()
                alerts.process(session, outcome.check_ids, now)
                t2 = time.perf_counter()
            if r:  # the first interval numbers the checks and makes their states: not the steady cost
                wrote += t1 - t0
                evaluated += t2 - t1
            probes += len(batch)
    with sessions() as session:
        rows = session.scalar(select(func.count()).select_from(ResultRow)) or 0
    engine.dispose()
    intervals = checks * (rounds - 1)
    return wrote * 1e6 / intervals, evaluated * 1e6 / intervals, probes, rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default="sqlite")
    parser.add_argument("--checks", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=11)
    args = parser.parse_args()
    print(f"{args.checks} checks, {args.rounds} intervals, database {args.db.split('@')[-1]}")
    print(f"{'':8} {'store ms/1k':>12} {'rules ms/1k':>12} {'rows/check/interval':>20}")
    for located in (False, True):
        with fresh_database(args.db) as url:
            write_ms, eval_ms, _probes, rows = run(url, args.checks, args.rounds, located)
        per = rows / (args.checks * args.rounds)
        print(f"{'located' if located else 'plain':8} {write_ms:12.1f} {eval_ms:12.1f} {per:20.2f}")


if __name__ == "__main__":
    main()
