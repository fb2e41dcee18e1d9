"""`opsbook oncall ...` on a tmp opsbook.yaml and SQLite file: Typer's runner, and one real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import select
from typer.testing import CliRunner

from opsbook.auth.models import AuditRow
from opsbook.cli.main import app
from opsbook.db.engine import make_engine, make_sessionmaker
from tests.oncall.conftest import TEAM_YAML

OPSBOOK = str(Path(sys.executable).parent / "opsbook")


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    config = tmp_path / "opsbook.yaml"
    config.write_text(TEAM_YAML)
    values = {
        "OPSBOOK_CONFIG": str(config),
        "OPSBOOK_DATABASE_URL": f"sqlite:///{tmp_path}/opsbook.db",
        "OPSBOOK_USER": "ben",
        "COLUMNS": "200",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["oncall", *args])
    return result.exit_code, result.output


def test_now_shows_who_until_when_and_who_is_next(env: dict[str, str]) -> None:
    code, out = run("now", "--at", "2026-01-14T12:00")
    assert code == 0, out
    assert ("primary: ben (Ben Okafor) since Mon 2026-01-12 09:00 CET until Mon 2026-01-19 09:00 CET "
            "(Europe/Berlin)" in out)
    assert "next: chen from Mon 2026-01-19 09:00 CET" in out
    assert "business: lead since Wed 2026-01-14 09:00 CET until Wed 2026-01-14 18:00 CET" in out
    code, out = run("now", "business", "--at", "2026-01-14T20:00")
    assert code == 0 and "business: nobody" in out and "next: lead from Thu 2026-01-15 09:00" in out
    code, out = run("now", "nights")
    assert code == 1 and "no schedule 'nights' (schedules: primary, business)" in out


def test_override_add_list_remove(env: dict[str, str]) -> None:
    code, out = run("override", "add", "primary", "chen", "--from", "2026-01-16T18:00", "--to",
                    "2026-01-19T09:00", "--covers", "ben", "-m", "ben travels")
    assert code == 0, out
    assert ("override 1: chen on call on primary from Fri 2026-01-16 18:00 CET to Mon 2026-01-19 09:00 CET"
            in out)
    code, out = run("now", "primary", "--at", "2026-01-17T12:00")
    assert "primary: chen since Fri 2026-01-16 18:00 CET until Mon 2026-01-26 09:00 CET" in out
    assert "(override)" in out
    code, out = run("override", "list", "--at", "2026-01-14T12:00")
    assert code == 0 and "chen" in out and "ben travels" in out and "Fri 2026-01-16 18:00" in out
    code, out = run("override", "list", "--at", "2026-02-01T00:00")
    assert "no overrides" in out
    code, out = run("override", "list", "--all", "--at", "2026-02-01T00:00")
    assert "ben travels" in out
    code, out = run("override", "remove", "1")
    assert code == 0 and "override 1 removed (chen on primary)" in out
    code, out = run("now", "primary", "--at", "2026-01-17T12:00")
    assert "primary: ben" in out
    code, out = run("override", "add", "primary", "dan", "--from", "2026-01-16T18:00", "--to", "2026-01-19")
    assert code == 2 and "no user 'dan'" in out
    code, out = run("override", "add", "primary", "ana", "--from", "friday", "--to", "2026-01-19T09:00")
    assert code == 2 and "--from: 'friday' is not a time; use e.g. now, +2h" in out
    code, out = run("override", "add", "nights", "ana", "--from", "2026-01-16T18:00", "--to", "2026-01-19")
    assert code == 2 and "no schedule 'nights'" in out
    code, out = run("override", "remove", "7")
    assert code == 1 and "no override 7" in out
    assert audit(env) == [("ben", "oncall.override.add"), ("ben", "oncall.override.remove")]


def audit(env: dict[str, str]) -> list[tuple[str, str]]:
    engine = make_engine(env["OPSBOOK_DATABASE_URL"])
    try:
        with make_sessionmaker(engine)() as s:
            return [(a.actor, a.action) for a in s.scalars(select(AuditRow).order_by(AuditRow.id))]
    finally:
        engine.dispose()


def next_handoff(after: datetime) -> datetime:
    """The primary schedule's next Monday 09:00 in Berlin after `after`."""
    local = after.astimezone(ZoneInfo("Europe/Berlin"))
    monday = local.date() + timedelta(days=(7 - local.weekday()) % 7)
    handoff = datetime.combine(monday, time(9), tzinfo=ZoneInfo("Europe/Berlin"))
    return handoff if handoff > local else handoff + timedelta(days=7)


def test_handoff_note_is_shown_to_the_next_person(env: dict[str, str]) -> None:
    handoff = next_handoff(datetime.now(UTC))
    code, out = run("handoff", "--note", "watch the disk on db1", "--schedule", "primary")
    assert code == 0, out
    assert "handoff note 1 kept for primary; next on call: " in out
    assert f"from {handoff:%a %Y-%m-%d 09:00}" in out
    code, out = run("now", "primary", "--at", (handoff + timedelta(hours=1)).isoformat())
    assert f"since {handoff:%a %Y-%m-%d 09:00}" in out
    assert "handoff note from ben (" in out and "watch the disk on db1" in out
    code, out = run("now", "primary", "--at", (handoff + timedelta(days=7, hours=1)).isoformat())
    assert "watch the disk" not in out  # the shift after has no note
    code, out = run("handoff", "--note", "which one?")
    assert code == 2 and "say which schedule with --schedule (primary, business)" in out
    code, out = run("handoff", "--note", "for whom?", "-s", "nights")
    assert code == 2 and "no schedule 'nights'" in out
    code, out = run("handoff", "--note", "back then", "-s", "primary", "--at", "2026-01-18T20:00")
    assert code == 2 and "a note is kept as of now" in out
    code, out = run("handoff", "--at", (handoff + timedelta(hours=1)).isoformat())
    assert code == 0 and "watch the disk on db1" in out
    assert audit(env) == [("ben", "oncall.handoff.note")]


def test_show_week_is_a_table_of_this_week_and_next(env: dict[str, str]) -> None:
    code, out = run("show", "primary", "--week", "--at", "2026-01-14T12:00")
    assert code == 0, out
    rows = [line for line in out.splitlines() if line.startswith("│")]
    assert len(rows) == 3
    assert "nobody" not in out.split("Mon 2026-01-12 09:00")[1]
    assert "ana" in rows[0] and "Mon 2026-01-12 00:00" in rows[0] and "Mon 2026-01-12 09:00" in rows[0]
    assert "ben" in rows[1] and "now" in rows[1] and "7 d" in rows[1]
    assert "chen" in rows[2] and "Mon 2026-01-26 00:00" in rows[2]
    code, out = run("show", "business", "--days", "2", "--at", "2026-01-16T12:00")
    assert "gap" in out and "Fri 2026-01-16 18:00" in out and "Sat 2026-01-18" not in out


def test_gaps(env: dict[str, str]) -> None:
    code, out = run("gaps", "business", "--days", "3", "--check", "--at", "2026-01-16T12:00")
    assert code == 1
    assert "nobody is on call on business Fri 2026-01-16 18:00 - Mon 2026-01-19 09:00 (Europe/Berlin)" in out
    code, out = run("gaps", "primary", "--days", "14", "--check", "--at", "2026-01-16T12:00")
    assert code == 0 and "no gaps in the next 14 days" in out


def test_ical_for_a_schedule_and_a_user(env: dict[str, str], tmp_path: Path) -> None:
    code, out = run("ical", "primary", "-o", str(tmp_path / "primary.ics"), "--at", "2026-01-14T12:00")
    assert code == 0, out
    cal = Calendar.from_ical((tmp_path / "primary.ics").read_bytes())
    starts = sorted(e.decoded("dtstart") for e in cal.walk("VEVENT"))
    assert starts[0] == datetime(2026, 1, 5, 8, tzinfo=UTC)
    assert datetime(2026, 1, 19, 8, tzinfo=UTC) in starts
    code, out = run("ical", "--user", "lead", "--at", "2026-01-14T12:00")
    assert code == 0
    events = Calendar.from_ical(out).walk("VEVENT")
    assert events and all("lead (business)" in str(e["summary"]) for e in events)
    code, out = run("ical")
    assert code == 2 and "give a SCHEDULE or --user NAME" in out


def test_real_subprocess_and_config_errors(env: dict[str, str], tmp_path: Path) -> None:
    def opsbook(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([OPSBOOK, "oncall", *args], env={**os.environ, **env}, capture_output=True,
                              text=True, timeout=60)

    done = opsbook("now", "primary", "--at", "2026-03-30T09:30")  # first Monday after the spring change
    assert done.returncode == 0, done.stderr
    assert "since Mon 2026-03-30 09:00 CEST until Mon 2026-04-06 09:00 CEST (Europe/Berlin)" in done.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(TEAM_YAML.replace("users: [ana, ben, chen]", "users: [ana, bob, chen]"))
    done = opsbook("now", "--config", str(bad))
    line = TEAM_YAML.splitlines().index("        users: [ana, ben, chen]") + 1
    assert done.returncode == 2
    assert f"bad.yaml:{line}: schedules[0].layers[0].users[1]: unknown user 'bob'" in done.stderr
