"""Maintenance tasks in their window, on the real PostgreSQL with a fake clock: a task runs at its firing
inside "Sundays 02:00-04:00 UTC" and not a minute outside, is recorded in the operations log with its
duration, a statement stopped by lock_timeout fails and alerts, two periods without a run alert, and
`opsbook pg maintain --dry-run` shows what would run."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from opsbook.alerts.types import AlertTransition, TransitionKind
from opsbook.clock import FakeClock
from opsbook.oplog.models import OplogEntryRow
from opsbook.postgres import upkeep
from opsbook.postgres.models import MaintenanceRunRow
from tests.postgres.conftest import Troubled
from tests.support import make_runtime

SATURDAY = datetime(2026, 3, 7, 23, 0, tzinfo=UTC)  # the window opens Sunday 2026-03-08 02:00 UTC


def config(dsn: str, cron: str = "15 2 * * 0", sql: str = "VACUUM ANALYZE bloated") -> str:
    return f"""
services:
  - name: db
    checks:
      - {{name: main, kind: postgres, dsn: "{dsn}", failures: 0}}
maintenance_windows:
  - {{name: sunday-db, cron: "0 2 * * 0", duration: 2h, timezone: UTC, services: [db]}}
postgres:
  maintenance:
    - name: weekly-vacuum
      check: db/main
      sql: "{sql}"
      cron: "{cron}"
      window: sunday-db
      lock_timeout: 200ms
      severity: P2
timezone: Europe/Berlin
"""


class Hooks:
    def __init__(self) -> None:
        self.seen: list[AlertTransition] = []

    def __call__(self, _session: Session, transitions: Sequence[AlertTransition], _now: datetime) -> None:
        self.seen.extend(transitions)

    def fired(self) -> list[str]:
        return [t.summary for t in self.seen if t.kind is TransitionKind.FIRED]


def runs(engine: Engine) -> list[tuple[str, datetime, str]]:
    with Session(engine) as session:
        rows = session.scalars(select(MaintenanceRunRow).order_by(MaintenanceRunRow.scheduled_for)).all()
        return [(r.task, r.scheduled_for, r.outcome) for r in rows]


async def test_it_runs_at_its_firing_inside_the_window_and_is_logged(
    troubled_db: Troubled, sqlite_engine: Engine
) -> None:
    clock = FakeClock(SATURDAY)
    runtime = make_runtime(sqlite_engine, clock, config(troubled_db.dsn))
    hooks = Hooks()
    done, wake = upkeep.run_due(runtime, hooks)
    assert done == [] and wake == datetime(2026, 3, 8, 2, 15, tzinfo=UTC)
    await clock.advance_to(datetime(2026, 3, 8, 2, 14, 59, tzinfo=UTC))
    assert upkeep.run_due(runtime, hooks)[0] == []
    await clock.advance_to(datetime(2026, 3, 8, 2, 15, tzinfo=UTC))
    done, wake = upkeep.run_due(runtime, hooks)
    assert [(d.outcome, d.scheduled_for.hour, d.scheduled_for.minute) for d in done] == [("ok", 2, 15)]
    assert wake == datetime(2026, 3, 15, 2, 15, tzinfo=UTC)
    assert upkeep.run_due(runtime, hooks)[0] == []  # once per firing
    with psycopg.connect(troubled_db.dsn) as conn:
        row = conn.execute("SELECT last_vacuum IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'bloated'"
                           ).fetchone()
    assert row == (True,)  # the VACUUM really ran
    with Session(sqlite_engine) as session:
        entry = session.scalars(select(OplogEntryRow)).one()
    assert entry.operation == "PostgreSQL maintenance weekly-vacuum on db/main"
    assert entry.source == "maintenance" and entry.duration_s is not None and entry.issues == ""
    assert entry.steps[0]["command"] == "VACUUM ANALYZE bloated" and entry.steps[0]["output"] == "VACUUM"
    assert hooks.fired() == []


async def test_not_a_minute_outside_the_window(troubled_db: Troubled, sqlite_engine: Engine) -> None:
    """opsbook was down from 03:30 to 04:00: the 03:30 firing is not run at 04:00 (the window has
    closed); it is recorded as missed, and a second missed week alerts."""
    clock = FakeClock(datetime(2026, 3, 8, 3, 0, tzinfo=UTC))
    runtime = make_runtime(sqlite_engine, clock, config(troubled_db.dsn, cron="30 3 * * 0"))
    hooks = Hooks()
    assert upkeep.run_due(runtime, hooks)[0] == []  # seen at 03:00: nothing due yet
    await clock.advance_to(datetime(2026, 3, 8, 4, 0, tzinfo=UTC))
    done, _ = upkeep.run_due(runtime, hooks)
    assert [(d.outcome, d.scheduled_for.minute) for d in done] == [("missed", 30)]
    await clock.advance_to(datetime(2026, 3, 15, 4, 0, tzinfo=UTC))
    done, _ = upkeep.run_due(runtime, hooks)
    assert [d.outcome for d in done] == ["missed"]
    assert [o for _, _, o in runs(sqlite_engine)] == ["missed", "missed"]
    assert hooks.fired() == [
        "maintenance task weekly-vacuum on db/main has not run for two periods (it has never run)"
    ]
    await clock.advance_to(datetime(2026, 3, 22, 3, 59, tzinfo=UTC))  # the last minute of the window
    done, _ = upkeep.run_due(runtime, hooks)
    assert [d.outcome for d in done] == ["ok"]
    assert [t.kind for t in hooks.seen][-1] is TransitionKind.RESOLVED
    for sunday in (29, 5):  # two more weeks missed: the alert says when it last ran, in the team's zone
        await clock.advance_to(datetime(2026, 3 if sunday == 29 else 4, sunday, 4, 0, tzinfo=UTC))
        assert [d.outcome for d in upkeep.run_due(runtime, hooks)[0]] == ["missed"]
    assert hooks.fired()[-1] == (
        "maintenance task weekly-vacuum on db/main has not run for two periods "
        "(last ran 2026-03-22 04:59 CET)")


async def test_a_statement_stopped_by_lock_timeout_fails_and_alerts(
    troubled_db: Troubled, sqlite_engine: Engine
) -> None:
    clock = FakeClock(datetime(2026, 3, 8, 2, 15, tzinfo=UTC))
    runtime = make_runtime(sqlite_engine, clock, config(troubled_db.dsn, sql="VACUUM FULL orders"))
    hooks = Hooks()
    with psycopg.connect(troubled_db.dsn) as holder:
        holder.execute("LOCK TABLE orders IN ACCESS SHARE MODE")  # held until the block ends
        done, _ = upkeep.run_due(runtime, hooks)
    assert [d.outcome for d in done] == ["failed"]
    assert "lock timeout" in done[0].error
    fired = hooks.fired()
    assert len(fired) == 1 and fired[0].startswith("maintenance task weekly-vacuum failed on db/main: ")
    assert hooks.seen[-1].severity == "P2" and hooks.seen[-1].service == "db"
    with Session(sqlite_engine) as session:
        entry = session.scalars(select(OplogEntryRow)).one()
    assert "lock timeout" in entry.issues and entry.steps[0]["exit_code"] == 1


def test_pg_maintain_dry_run_shows_what_would_run(troubled_db: Troubled, tmp_path: Path) -> None:
    from opsbook.cli.main import app

    cfg = tmp_path / "opsbook.yaml"
    cfg.write_text(config(troubled_db.dsn) + f"database_url: sqlite:///{tmp_path}/o.db\n")
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade", "-c", str(cfg)]).exit_code == 0
    result = runner.invoke(app, ["pg", "maintain", "--dry-run", "-c", str(cfg)], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert "weekly-vacuum" in result.output and "VACUUM ANALYZE bloated" in result.output
    assert "sunday-db" in result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80
    assert runs(_engine(tmp_path)) == []  # nothing ran


def _engine(tmp_path: Path) -> Engine:
    from opsbook.db.engine import make_engine

    return make_engine(f"sqlite:///{tmp_path}/o.db")


def test_a_schedule_that_can_fall_outside_the_window_is_an_error_at_its_line(tmp_path: Path) -> None:
    from opsbook.cli.main import app

    cfg = tmp_path / "opsbook.yaml"
    cfg.write_text(config("postgresql://u@127.0.0.1/x", cron="30 3 * * *"))  # daily, the window is weekly
    result = CliRunner().invoke(app, ["validate", "-c", str(cfg)])
    assert result.exit_code == 1
    assert (
        f"{cfg}:13: postgres.maintenance[0].cron: '30 3 * * *' (UTC) can run outside the window "
        "'sunday-db' ('0 2 * * 0' for 2h, UTC): it fires at Wed 2025-01-01 03:30 UTC, "
        "when the window is closed"
    ) in result.output
