"""`opsbook pg queries --since 1h` and `opsbook pg maintain` (not a dry run) as typed, against the real
PostgreSQL: the window's statements from a stored sample and now; a task due now runs, is recorded in the
operations log, and says so."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import psycopg
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from opsbook.cli.main import app
from opsbook.clock import FakeClock, SystemClock
from opsbook.oplog.models import OplogEntryRow
from opsbook.postgres import service
from opsbook.runtime import open_runtime
from opsbook.timefmt import show_time
from tests.postgres.conftest import HOT, Troubled
from tests.support import free_port


def write_config(tmp_path: Path, dsn: str) -> Path:
    cfg = tmp_path / "opsbook.yaml"
    cfg.write_text(f"""
database_url: sqlite:///{tmp_path}/o.db
timezone: Europe/Berlin
services:
  - name: db
    checks:
      - {{name: main, kind: postgres, dsn: "{dsn}", measure: [all], failures: 0}}
maintenance_windows:
  - {{name: always, cron: "* * * * *", duration: 1h, services: [db]}}
postgres:
  maintenance:
    - {{name: analyze, check: db/main, sql: "ANALYZE orders", cron: "* * * * *", window: always}}
""")
    assert CliRunner().invoke(app, ["db", "upgrade", "-c", str(cfg)]).exit_code == 0
    return cfg


def test_pg_queries_over_the_last_hour(troubled_db: Troubled, tmp_path: Path) -> None:
    cfg = write_config(tmp_path, troubled_db.dsn)
    runner = CliRunner()
    early = runner.invoke(app, ["pg", "queries", "--since", "1h", "-c", str(cfg)])
    assert early.exit_code == 0 and "no stored sample is that old yet" in early.output
    runtime = open_runtime(str(cfg))
    runtime.clock = FakeClock(SystemClock().now() - timedelta(minutes=70))  # a sample stored 70 min ago
    service.store_sample(runtime, "db/main", service.databases(runtime)["db/main"])
    runtime.close()
    with psycopg.connect(troubled_db.dsn, autocommit=True) as conn:
        for i in range(40):
            conn.execute(HOT, (i,))
    result = runner.invoke(app, ["pg", "queries", "--since", "1h", "-c", str(cfg)], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert "Top queries" in result.output and "customer = $1" in result.output
    row = next(line for line in result.output.splitlines() if "customer = $1" in line)
    assert " 40 " in row  # the calls of the window, not the 300+ since the reset
    assert max(len(line) for line in result.output.splitlines()) <= 80
    missing = runner.invoke(app, ["pg", "queries", "nope", "-c", str(cfg)])
    assert missing.exit_code == 1 and "databases: db/main" in missing.output


def test_pg_queries_without_an_old_enough_sample_names_the_oldest_in_the_team_zone(
    troubled_db: Troubled, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path, troubled_db.dsn)
    runtime = open_runtime(str(cfg))
    runtime.clock = FakeClock(SystemClock().now() - timedelta(minutes=30))  # younger than the hour asked
    sampled_at = service.store_sample(runtime, "db/main", service.databases(runtime)["db/main"]).ts
    runtime.close()
    result = CliRunner().invoke(app, ["pg", "queries", "--since", "1h", "-c", str(cfg)],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    oldest = show_time(sampled_at, "Europe/Berlin")
    assert oldest.endswith((" CET", " CEST")) and f"the oldest is from {oldest})" in result.output


def test_pg_maintain_runs_what_is_due_now(troubled_db: Troubled, tmp_path: Path) -> None:
    cfg = write_config(tmp_path, troubled_db.dsn)
    result = CliRunner().invoke(app, ["pg", "maintain", "-c", str(cfg)], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert "analyze: ok in" in result.output
    runtime = open_runtime(str(cfg))
    with Session(runtime.engine) as session:
        entry = session.scalars(select(OplogEntryRow)).one()
    runtime.close()
    assert entry.operation == "PostgreSQL maintenance analyze on db/main"
    assert entry.steps[0]["output"] == "ANALYZE"


def test_an_unreachable_database_is_an_error_without_its_password(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    cfg = write_config(tmp_path, f"postgresql://app:Sup3r-Secret@127.0.0.1:{port}/app")
    result = CliRunner().invoke(app, ["pg", "report", "-c", str(cfg)])
    assert result.exit_code == 2
    assert "error: postgresql://app@127.0.0.1" in result.output and "Sup3r-Secret" not in result.output
