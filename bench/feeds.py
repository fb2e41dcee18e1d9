"""Benchmark: building the on-call iCalendar feeds with whole shifts (issue 11).

    .venv/bin/python bench/feeds.py [--runs 30]

A team of 12 on 5 schedules (weekly, daily, 12-hour turns, business-hours restrictions, one person alone
on call for years, i.e. the longest possible shift) with 20 overrides, on a SQLite file. Printed, median and
worst of --runs: the time to build each schedule's feed and one user's feed over all schedules (what
`GET /api/v1/oncall/.../NAME.ics` costs), beside the time to compute the same window's shifts cut at its
edges (what the feeds did before they looked further for whole shifts), and the feed sizes.
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from opsbook.auth.roles import SYSTEM
from opsbook.config.loader import parse_config
from opsbook.db.engine import make_engine, make_sessionmaker
from opsbook.db.migrate import upgrade
from opsbook.oncall import feeds, store
from opsbook.oncall.service import schedule_shifts
from support import timed  # bench/support.py, beside this script

USERS = [f"u{n:02d}" for n in range(12)]
CONFIG = f"""
timezone: Europe/Berlin
base_url: https://ops.example.com
users:
{chr(10).join(f"  - name: {u}" for u in USERS)}
schedules:
  - name: weekly
    timezone: Europe/Berlin
    layers:
      - {{name: w, users: [{", ".join(USERS[:6])}], turn: 1w, handoff: "monday 09:00", start: 2025-01-06}}
  - name: daily
    timezone: America/New_York
    layers:
      - {{name: d, users: [{", ".join(USERS[3:9])}], turn: 1d, handoff: "08:00", start: 2025-01-06}}
  - name: halves
    timezone: Asia/Tokyo
    layers:
      - {{name: h, users: [{", ".join(USERS[6:])}], turn: 12h, handoff: "09:00", start: 2025-01-06}}
  - name: business
    timezone: Europe/Berlin
    layers:
      - name: b
        users: [{", ".join(USERS[:4])}]
        turn: 1d
        handoff: "09:00"
        start: 2025-01-06
        restrictions: [{{days: [mon, tue, wed, thu, fri], from: "09:00", to: "18:00"}}]
  - name: solo
    timezone: UTC
    layers:
      - {{name: s, users: [{USERS[0]}], turn: 1w, handoff: "monday 09:00", start: 2024-01-01}}
"""
NOW = datetime(2026, 3, 18, 11, 0, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    config = parse_config(CONFIG, "opsbook.yaml", env={}).config
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'bench.db'}")
        upgrade(engine)
        sessions = make_sessionmaker(engine)
        with sessions.begin() as s:
            for n in range(20):
                schedule = config.schedules[n % 4].name
                start = NOW + timedelta(days=3 * n - 20, hours=n)
                store.add_override(s, config, NOW, SYSTEM, schedule, USERS[(n * 5) % 12], start,
                                   start + timedelta(hours=10))
        window = (NOW - feeds.FEED_PAST, NOW + feeds.FEED_FUTURE)
        print(f"feeds at {NOW:%Y-%m-%d %H:%M} UTC, {args.runs} runs each: median / worst ms")
        with sessions() as s:
            for schedule in config.schedules:
                name = schedule.name
                body = feeds.schedule_feed(s, config, name, NOW)
                whole = timed(partial(feeds.schedule_feed, s, config, name, NOW), args.runs)
                cut = timed(partial(schedule_shifts, s, config, name, *window), args.runs)
                print(f"  schedule {name:<9} {whole[0]:7.1f} / {whole[1]:7.1f}   "
                      f"(shifts cut at the edges: {cut[0]:6.1f} / {cut[1]:6.1f})   "
                      f"{body.count(b'BEGIN:VEVENT'):4d} events, {len(body) / 1024:6.1f} KiB")
            body = feeds.user_feed(s, config, USERS[3], NOW)
            user = timed(partial(feeds.user_feed, s, config, USERS[3], NOW), args.runs)
            print(f"  user {USERS[3]} (4 schedules) {user[0]:7.1f} / {user[1]:7.1f}   "
                  f"{body.count(b'BEGIN:VEVENT'):4d} events, {len(body) / 1024:6.1f} KiB")
        engine.dispose()


if __name__ == "__main__":
    main()
