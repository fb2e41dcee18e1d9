"""`opsbook capacity` prints the runbooks' capacity table in 80 columns: current, capacity, use, trend per
week, when the next level is reached, the plan's action; a resource without enough history says so."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from typer.testing import CliRunner

from opsbook.capacity.rollup import tracked_values
from opsbook.capacity.service import roll_up_values
from opsbook.checks.result import CheckResult, StoredResult
from opsbook.checks.store import write_batch
from opsbook.cli.main import app
from opsbook.clock import FakeClock, SystemClock
from opsbook.runtime import open_runtime

CONFIG = """
timezone: UTC
database_url: sqlite:///{folder}/o.db
services:
  - name: db
    checks:
      - {{name: disk, kind: host, failures: 0}}
      - {{name: main, kind: postgres, dsn: "postgresql://u@127.0.0.1/x", failures: 0}}
capacity:
  resources:
    - name: db-disk
      title: "db /data"
      check: db/disk
      value: disk_pct:/data
      unit: "%"
      plan: [{{at: 80, action: "Increase volume or delete old data"}}]
    - name: connections
      check: db/main
      value: connections_used
      capacity: 200
      plan: [{{at: 150, action: "Increase connection pool"}}]
"""


def test_the_capacity_table(tmp_path: Path) -> None:
    cfg = tmp_path / "opsbook.yaml"
    cfg.write_text(CONFIG.format(folder=tmp_path))
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade", "-c", str(cfg)]).exit_code == 0
    now = SystemClock().now()
    runtime = open_runtime(str(cfg))
    start = now - timedelta(days=10)
    disk = [
        StoredResult("db/disk", start + timedelta(hours=h),
                     CheckResult.up(1.0, "", **{"disk_pct:/data": 50 + h / 24}))
        for h in range(10 * 24)
    ]
    connections = StoredResult("db/main", now - timedelta(minutes=1),
                               CheckResult.up(1.0, "", connections_used=120))
    with runtime.sessions.begin() as session:
        write_batch(session, disk)
    for day in range(11):  # the rollup, once a day (raw results are still there: retention is not run)
        runtime.clock = FakeClock(start + timedelta(days=day, minutes=10))
        roll_up_values(runtime, tracked_values(runtime.config))
    # the connections' one measurement comes after the last rollup (which ran 10 minutes after `now`: it
    # would have taken in a measurement of the minute before `now` whenever `now` is past :50)
    with runtime.sessions.begin() as session:
        write_batch(session, [connections])
    runtime.close()
    result = runner.invoke(app, ["capacity", "-c", str(cfg)], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 80
    disk_row = next(line for line in lines if "db /data" in line)
    assert "60%" in disk_row or "59.9%" in disk_row
    assert "+7.0%" in disk_row and "80%" in disk_row and "Increase" in disk_row
    connections_row = next(line for line in lines if "120" in line)
    assert "60%" in connections_row and "at 150:" in connections_row  # 120 of 200; the plan's first step
    assert "connections: no measurements in the history window yet" in result.output
