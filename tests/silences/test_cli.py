"""`opsbook silence ...` and `opsbook maintenance ...` against a tmp opsbook.yaml and SQLite database."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from opsbook.auth.models import AuditRow
from opsbook.cli.main import app as main_app
from opsbook.db.engine import make_engine, make_sessionmaker
from opsbook.db.migrate import upgrade
from opsbook.silences.cli import app, maintenance_app
from opsbook.silences.models import MaintenanceRow, SilenceRow
from tests.silences.conftest import CONFIG


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    config = tmp_path / "opsbook.yaml"
    config.write_text(CONFIG)
    url = f"sqlite:///{tmp_path}/cli.db"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return {"OPSBOOK_CONFIG": str(config), "OPSBOOK_DATABASE_URL": url, "OPSBOOK_USER": "carol",
            "COLUMNS": "200"}


def rows(env: dict[str, str], model: type) -> list:
    engine = make_engine(env["OPSBOOK_DATABASE_URL"])
    try:
        with make_sessionmaker(engine)() as session:
            return list(session.scalars(select(model).order_by(model.id)))  # type: ignore[attr-defined]
    finally:
        engine.dispose()


def test_silence_add_list_expire(env: dict[str, str]) -> None:
    runner = CliRunner()
    added = runner.invoke(app, ["add", "service=api", 'severity=~"P[23]"', "--duration", "2h",
                                "--comment", "deploy"], env=env)
    assert added.exit_code == 0, added.output
    assert 'silence 1 active until' in added.output and 'severity=~"P[23]"' in added.output
    until = runner.invoke(app, ["add", "service=db", "--start", "2099-01-01T00:00",
                                "--until", "2099-01-01T06:00", "-m", "later", "--author", "dave"], env=env)
    assert until.exit_code == 0, until.output
    assert "silence 2 pending until 2099-01-01 06:00 CET" in until.output  # naive times: team time zone

    stored = rows(env, SilenceRow)
    assert [(s.created_by, s.comment) for s in stored] == [("carol", "deploy"), ("dave", "later")]
    assert stored[0].ends_at - stored[0].starts_at == timedelta(hours=2)
    assert stored[1].starts_at.isoformat() == "2098-12-31T23:00:00+00:00"

    listed = runner.invoke(app, ["list"], env=env)
    assert listed.exit_code == 0
    assert "deploy" in listed.output and "later" in listed.output and "pending" in listed.output

    expired = runner.invoke(app, ["expire", "1"], env=env)
    assert expired.exit_code == 0 and "silence 1 expired" in expired.output
    again = runner.invoke(app, ["expire", "1"], env=env)
    assert again.exit_code == 1 and "already expired" in again.output
    assert "deploy" in runner.invoke(app, ["list", "--state", "expired"], env=env).output
    assert "deploy" not in runner.invoke(app, ["list"], env=env).output

    audit = rows(env, AuditRow)
    assert [(a.actor, a.action, a.source) for a in audit] == [
        ("carol", "silence.create", "cli"),
        ("dave", "silence.create", "cli"),
        ("carol", "silence.expire", "cli"),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", 'severity=~"P[23"', "--duration", "2h", "-m", "x"], "invalid regular expression"),
        (["add", "service=api", "--duration", "2h"], "needs a comment"),
        (["add", "service=api", "-m", "x"], "exactly one of --duration"),
        (["add", "service=api", "--duration", "soon", "-m", "x"], "not a length of time; use e.g. 2h"),
        (["add", "service=api", "--until", "2000-01-01T00:00Z", "-m", "x"], "in the future"),
        (["add", "service=api", "--until", "sometime", "-m", "x"], "is not a time; use e.g. now, +2h"),
        (["add", "team!=db", "--duration", "1h", "-m", "x"], "every alert"),
        (["list", "--state", "gone"], "use one of active, pending, expired"),
    ],
)
def test_silence_errors(env: dict[str, str], args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert rows(env, SilenceRow) == []


def test_who_acts_is_as_then_opsbook_user_then_the_login_name(env: dict[str, str]) -> None:
    runner = CliRunner()
    login = {**env, "OPSBOOK_USER": None, "LOGNAME": "lena"}
    for who, extra in [("dave", ["--as", "dave"]), ("erin", ["--author", "erin"]), ("carol", []),
                       ("lena", ["--as", ""])]:
        done = runner.invoke(app, ["add", "service=api", "-d", "1h", "-m", who, *extra],
                             env=login if who == "lena" else env)
        assert done.exit_code == 0, done.output
    assert [(s.created_by, s.comment) for s in rows(env, SilenceRow)] == [
        ("dave", "dave"), ("erin", "erin"), ("carol", "carol"), ("lena", "lena")]
    assert [a.actor for a in rows(env, AuditRow)] == ["dave", "erin", "carol", "lena"]


def test_maintenance_add_list_cancel(env: dict[str, str]) -> None:
    runner = CliRunner()
    added = runner.invoke(maintenance_app, ["add", "--service", "api", "-s", "db",
                                            "--start", "2099-01-01T00:00Z", "--duration", "90m",
                                            "--title", "Big upgrade"], env=env)
    assert added.exit_code == 0, added.output
    assert "maintenance #1 2099-01-01 01:00 CET to 2099-01-01 02:30 CET: Big upgrade" in added.output
    unknown = runner.invoke(maintenance_app, ["add", "-s", "nope", "--start", "2099-01-01T00:00Z",
                                              "--duration", "1h", "--title", "x"], env=env)
    assert unknown.exit_code == 2 and "unknown service 'nope'" in unknown.output
    [row] = rows(env, MaintenanceRow)
    assert (row.services, row.created_by, row.title) == (["api", "db"], "carol", "Big upgrade")

    listed = runner.invoke(maintenance_app, ["list"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "maintenance:sunday-db" in listed.output and "Weekly database maintenance" in listed.output
    assert "Big upgrade" not in listed.output  # 2099 is beyond 14 days
    assert "Big upgrade" in runner.invoke(maintenance_app, ["list", "--days", "40000"], env=env).output

    assert runner.invoke(maintenance_app, ["cancel", "1"], env=env).exit_code == 0
    again = runner.invoke(maintenance_app, ["cancel", "1"], env=env)
    assert again.exit_code == 1 and "already ended or been cancelled" in again.output
    assert rows(env, MaintenanceRow)[0].cancelled_by == "carol"


def test_wired_into_opsbook_and_config_errors_point_at_the_line(env: dict[str, str], tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main_app, ["silence", "list"], env=env).exit_code == 0
    assert runner.invoke(main_app, ["maintenance", "list"], env=env).exit_code == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(CONFIG + "    match: {severity: 'P[2-4'}\n")
    result = runner.invoke(app, ["list"], env={**env, "OPSBOOK_CONFIG": str(bad)})
    assert result.exit_code == 2
    assert f"{bad}:13: maintenance_windows[0].match.severity: invalid regular expression" in result.output
