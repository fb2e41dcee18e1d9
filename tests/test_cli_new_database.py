"""A command run where there is no database yet says so (issue 11): the reads refuse rather than show an
empty new one as "no data", and every other command that makes one says where."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

OPSBOOK = str(Path(sys.executable).parent / "opsbook")

CONFIG = """\
users:
  - {name: ana, role: responder}
schedules:
  - name: primary
    layers:
      - {name: weekly, users: [ana], turn: 1w, handoff: "monday 09:00", start: 2026-03-02}
services:
  - name: api
    checks:
      - {name: health, kind: http, url: "http://127.0.0.1:9/health"}
"""

READS = [
    ["status"],
    ["incident", "list"],
    ["incident", "show", "1"],
    ["incident", "postmortem", "1"],
    ["report", "incidents"],
    ["alert", "list"],
]


def opsbook(args: list[str], team: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`opsbook ARGS -c team/opsbook.yaml`, run from another folder, as in the issue."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("OPSBOOK_")}
    env["OPSBOOK_PRELOAD"] = "off"  # each command in its own process, as this test set it up
    env.update(OPSBOOK_USER="ana", OPSBOOK_CACHE_DIR=str(team / "cache"), COLUMNS="100")
    return subprocess.run(
        [OPSBOOK, *args, "-c", str(team / "opsbook.yaml")],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False,
    )


@pytest.fixture
def team(tmp_path: Path) -> Path:
    (tmp_path / "team").mkdir()
    (tmp_path / "team" / "opsbook.yaml").write_text(CONFIG)
    (tmp_path / "elsewhere").mkdir()
    return tmp_path / "team"


@pytest.mark.parametrize("args", READS, ids=" ".join)
def test_a_read_with_no_database_says_where_it_looked_and_makes_none(team: Path, args: list[str]) -> None:
    done = opsbook(args, team, team.parent / "elsewhere")
    assert done.returncode == 1, done.stdout + done.stderr
    database = team / "var" / "opsbook.db"
    assert f"error: no database at {database}: is this the right config" in " ".join(done.stderr.split())
    assert not database.exists()
    assert not (team.parent / "elsewhere" / "var").exists()


@pytest.mark.parametrize("args", [["oncall", "now"], ["oplog", "list"]], ids=" ".join)
def test_another_command_that_makes_the_database_says_so_once(team: Path, args: list[str]) -> None:
    """`oncall now` answers from the schedules even so (the overrides it would read are not there)."""
    made = opsbook(args, team, team.parent / "elsewhere")
    assert made.returncode == 0, made.stdout + made.stderr
    database = team / "var" / "opsbook.db"
    assert f"note: there was no database at {database}, so a new, empty one was made" in " ".join(
        made.stderr.split()
    )
    assert database.exists()
    again = opsbook(args, team, team.parent / "elsewhere")
    assert again.returncode == 0 and "no database" not in again.stderr
    assert opsbook(["incident", "list"], team, team.parent / "elsewhere").returncode == 0


@pytest.mark.parametrize(
    "args", [["status"], ["incident", "ack", "1"], ["oncall", "now"], ["oplog", "list"]], ids=" ".join
)
def test_a_database_that_cannot_be_reached_is_said_in_one_line(team: Path, args: list[str]) -> None:
    """A stopped PostgreSQL: one line that names where and why, exit 1, no traceback, no password."""
    with socket.socket() as closed:  # a port nothing listens on: bound, never listening
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        (team / "opsbook.yaml").write_text(
            f'database_url: "postgresql://ops:hunter2secret@127.0.0.1:{port}/ops"\n{CONFIG}'
        )
        done = opsbook(args, team, team.parent / "elsewhere")
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: the database cannot be used: ")
    assert f'"127.0.0.1", port {port} failed: Connection refused' in lines[0]
    assert "hunter2secret" not in done.stdout + done.stderr
