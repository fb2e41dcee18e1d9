"""Scenario 8 of SCENARIOS.md, "The disk is filling", end to end on a fake clock.

The database volume's usage (`disk_pct:/data`, as the `host` check reports it) grows 2 % a day: 50 %
ten days ago, 70 % now, 90 % in ten days. The pipeline stores each hourly result, the capacity duty
rolls the hours up, and the rule `days_until(disk_pct:/data >= 90) < 14` (P2) is evaluated on every
result from the Theil–Sen trend of the last 14 days. It fires the hour the forecast says 90 % is less
than 14 days away — fourteen days before the volume crosses 90 % — and the team's channel (a real
webhook receiver) gets "db /data reaches 90% around <date> ... plan: increase volume or delete old
data". `opsbook capacity` prints the same forecast.

Only the disk is not real: a volume cannot be filled by 40 % here, so the host check's results are handed
to the pipeline as the check would report them (its probe is psutil; see tests/checks/test_kind_host.py).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from opsbook.auth.roles import Principal, Role
from opsbook.capacity.forecast import Trend
from opsbook.capacity.rollup import tracked_values
from opsbook.capacity.service import capacity_table, roll_up_values
from opsbook.checks.result import CheckResult, StoredResult
from opsbook.clock import FakeClock
from opsbook.pipeline import Pipeline
from tests.e2e.conftest import eventually
from tests.notify.conftest import Receiver
from tests.support import make_runtime

START = datetime(2026, 2, 22, 0, 0, tzinfo=UTC)  # 50 % then; +2 %/day
CROSSING = START + timedelta(days=20)  # 90 % on 2026-03-14
ACTION = "Increase volume or delete old data"


def config(receiver: Receiver) -> str:
    return f"""
title: Acme
timezone: Europe/Berlin
channels:
  - {{name: ops, url: "{receiver.url("/ops")}"}}
grouping: {{window: 0s}}
services:
  - name: db
    checks:
      - {{name: disk, kind: host, interval: 1h, failures: 0}}
    rules:
      - name: disk-full-soon
        check: disk
        when: "days_until(disk_pct:/data >= 90) < 14"
        severity: P2
capacity:
  history: 14d
  min_history: 3d
  resources:
    - name: db-disk
      title: "db /data"
      check: db/disk
      value: disk_pct:/data
      unit: "%"
      plan:
        - {{at: 80, action: "{ACTION}"}}
        - {{at: 90, action: "{ACTION}"}}
"""


def usage(at: datetime, rng: random.Random) -> float:
    return 50.0 + 2.0 * (at - START).total_seconds() / 86400 + rng.uniform(-0.4, 0.4)


async def test_the_disk_is_filling(sqlite_engine: Engine, receiver: Receiver, tmp_path: Path) -> None:
    clock = FakeClock(START)
    runtime = make_runtime(sqlite_engine, clock, config(receiver))
    pipeline = Pipeline(runtime)
    tracked = tracked_values(runtime.config)
    assert tracked == {"db/disk": {"disk_pct:/data"}}
    rng = random.Random(8)

    async def hour() -> None:
        """One hourly run of the host check, its evaluation, the capacity rollup, delivery."""
        pct = usage(clock.now(), rng)
        result = CheckResult.up(3.0, "", **{"disk_pct:/data": pct})
        pipeline.record(StoredResult("db/disk", clock.now(), result))
        await pipeline.writer.flush()
        await pipeline.notifier.run_once()
        await clock.advance(timedelta(hours=1))
        roll_up_values(runtime, tracked)

    warned_at = None
    while clock.now() < CROSSING - timedelta(days=10):  # "now" in the scenario: 70 %
        await hour()
        if warned_at is None and receiver.bodies("/ops"):
            warned_at = clock.now()
    # the warning came fourteen days before the crossing (within the hour the fit needs to agree)
    assert warned_at is not None
    assert abs((CROSSING - warned_at) - timedelta(days=14)) <= timedelta(hours=12)
    await eventually(lambda: len(receiver.bodies("/ops")) == 1, "one message")
    (message,) = receiver.bodies("/ops")
    assert message["title"].startswith("[P2] FIRING: db/disk")
    text = f"{message['title']} {message['message']}"
    assert "db /data reaches 90% around 2026-03-1" in text and "trend +2.0%/day" in text
    assert f"plan: {ACTION}" in text
    day = text.split("around ")[1][:10]
    assert abs(datetime.fromisoformat(day).date() - CROSSING.date()) <= timedelta(days=1)

    # the capacity table says the same: 70 % now, +14 %/week, 80 % and 90 % dates, the plan's action
    (view,) = capacity_table(runtime, Principal("vic", Role.VIEWER))
    assert view.current is not None and abs(view.current - 70) < 1
    assert isinstance(view.trend, Trend) and abs(view.trend.slope_per_day * 7 - 14) < 0.5
    upcoming = view.next_crossing
    assert upcoming is not None and upcoming.level == 80 and upcoming.when is not None
    assert abs(upcoming.when - (START + timedelta(days=15))) < timedelta(hours=12)
    assert view.action == ACTION
