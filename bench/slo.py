"""Benchmark: the SLO watch's round and `opsbook slo` over many services and a month of history (issue 17).

    .venv/bin/python bench/slo.py [--db sqlite|postgresql://...] [--services 50] [--days 30]
                                  [--outages 4] [--latency 10] [--runs 10]

Each service has one check and an availability objective (99.9 % over 30 days, the three default burn
alerts); its check went down `--outages` times a day for 1 to 20 minutes over `--days` days (state
changes written straight into the log). The first `--latency` services also have a latency objective
(99 % under 500 ms) and a result every 5 minutes over the same days, rolled up into minutes and hours
as the pipeline does (a slow answer in every outage).

Printed, median and worst of --runs (ms): one round of the SLO watch (`slo.service.sync`: every burn
alert of every objective evaluated, raised or resolved, the next instant found), the figures `opsbook slo`
shows (`service.views`, in-process), one service's page (`service.view`, with the budget chart), and the
command `opsbook slo` itself as a process (start-up, config, database, the table at 80 columns).
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.orm import Session

from opsbook.checks.models import StateChangeRow
from opsbook.checks.result import CheckResult, StoredResult
from opsbook.checks.rollup import roll_up
from opsbook.checks.store import write_batch
from opsbook.clock import FakeClock
from opsbook.config.loader import parse_config
from opsbook.db.engine import make_engine, make_sessionmaker
from opsbook.db.migrate import upgrade
from opsbook.runtime import Runtime
from opsbook.slo import service
from support import fresh_database, timed  # bench/support.py, beside this script

OPSBOOK = str(Path(sys.executable).parent / "opsbook")


def config_text(services: int, latency: int, url: str) -> str:
    lines = [f"database_url: {url}", "services:"]
    for n in range(services):
        lines.append(f"  - {{name: s{n:03d}, checks: [{{name: web, kind: tcp, host: 127.0.0.1, port: 1}}]}}")
    lines.append("slos:")
    for n in range(services):
        extra = ", latency: {below: 500ms, target: 99%}" if n < latency else ""
        lines.append(f"  - {{service: s{n:03d}, availability: 99.9%{extra}}}")
    return "\n".join(lines) + "\n"


def change(check: str, at: datetime, before: str | None, after: str) -> dict[str, object]:
    return {"check_id": check, "ts": at, "from_status": before, "to_status": after, "message": ""}


def history(url: str, args: argparse.Namespace, now: datetime) -> int:
    """The state changes (and the latency services' results); returns how many changes were written."""
    rng = random.Random(17)
    engine = make_engine(url)
    rows = []
    outages: dict[str, list[tuple[datetime, datetime]]] = {}
    for n in range(args.services):
        check = f"s{n:03d}/web"
        start = now - timedelta(days=args.days)
        rows.append(change(check, start, None, "up"))
        spans = []
        for day in range(args.days):
            for k in range(args.outages):
                down = start + timedelta(days=day, hours=k * 24 / args.outages, minutes=rng.randint(1, 300))
                up = down + timedelta(minutes=rng.randint(1, 20))
                spans.append((down, up))
                rows.append(
                    {"check_id": check, "ts": down, "from_status": "up", "to_status": "down", "message": ""}
                )
                rows.append(
                    {"check_id": check, "ts": up, "from_status": "down", "to_status": "up", "message": ""}
                )
        outages[check] = spans
    with Session(engine) as s, s.begin():
        s.execute(insert(StateChangeRow), rows)
    for n in range(args.latency):
        check = f"s{n:03d}/web"
        slow = outages[check]
        batch = []
        t = now - timedelta(days=args.days)
        while t < now:
            late = any(a <= t < b for a, b in slow)
            batch.append(StoredResult(check, t, CheckResult.up(900.0 if late else 20.0)))
            t += timedelta(minutes=5)
        with Session(engine) as s, s.begin():
            write_batch(s, batch)
    with Session(engine) as s, s.begin():
        roll_up(s, now - timedelta(minutes=2))
    engine.dispose()
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default="sqlite")
    parser.add_argument("--services", type=int, default=50)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--outages", type=int, default=4, help="outages a day per service")
    parser.add_argument("--latency", type=int, default=10, help="services with a latency objective too")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with fresh_database(args.db) as url:
        upgrade(make_engine(url))
        began = time.perf_counter()
        changes = history(url, args, now)
        print(
            f"{args.services} services, {args.days} days, {changes} state changes, "
            f"{args.latency} with latency objectives ({args.db.split(':')[0]}); "
            f"written in {time.perf_counter() - began:.1f} s"
        )
        text = config_text(args.services, args.latency, url)
        loaded = parse_config(text, "opsbook.yaml", {})
        engine = make_engine(url)
        runtime = Runtime(
            loaded=loaded, engine=engine, sessions=make_sessionmaker(engine), clock=FakeClock(now)
        )
        raised: list[int] = []
        hooks: service.Hooks = lambda session, transitions, at: raised.append(len(transitions))  # noqa: E731
        rows = [
            ("watch round (all burn alerts)", lambda: service.sync(runtime, hooks)),
            ("opsbook slo figures (views)", lambda: service.views(runtime)),
            ("one service's page (view + chart)", lambda: service.view(runtime, "s000")),
        ]
        print(f"{'':36}{'median ms':>12}{'worst ms':>12}")
        for name, fn in rows:
            median, worst = timed(fn, args.runs)
            print(f"{name:36}{median:12.1f}{worst:12.1f}")
        print(f"  (alerts raised or resolved in the rounds: {sum(raised)})")
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "opsbook.yaml"
            path.write_text(text)
            env = {**os.environ, "COLUMNS": "80"}
            median, worst = timed(
                lambda: subprocess.run(
                    [OPSBOOK, "slo", "--config", str(path)], env=env, check=True, capture_output=True
                ),
                max(3, args.runs // 2),
            )
            print(f"{'opsbook slo (the process)':36}{median:12.1f}{worst:12.1f}")
        engine.dispose()


if __name__ == "__main__":
    main()
