"""`opsbook user set-password|list` and `opsbook audit list`, run as real subprocesses (a terminal for
the password prompt, through pexpect)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pexpect
from sqlalchemy.orm import Session

from opsbook.auth import passwords
from opsbook.db.engine import make_engine

OPSBOOK = str(Path(sys.executable).parent / "opsbook")
CONFIG = """\
users:
  - {name: ana, role: admin}
  - {name: vera, role: viewer}
"""


def env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ, "OPSBOOK_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "COLUMNS": "200",
        "OPSBOOK_CONFIG": str(tmp_path / "opsbook.yaml"),
    }


def run(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [OPSBOOK, *args], capture_output=True, text=True, env=env(tmp_path), timeout=60, check=False
    )


def set_password(tmp_path: Path, user: str, first: str, second: str) -> tuple[int, str]:
    child = pexpect.spawn(OPSBOOK, ["user", "set-password", user], env=env(tmp_path), encoding="utf-8",
                          timeout=30)
    child.expect("New password")
    child.sendline(first)
    child.expect("Repeat the password")
    child.sendline(second)
    if first != second:
        child.expect("do not match|match")
        child.sendcontrol("c")
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus or 0, child.before or ""


def test_set_password_twice_list_and_audit(tmp_path: Path) -> None:
    (tmp_path / "opsbook.yaml").write_text(CONFIG)
    code, _ = set_password(tmp_path, "ana", "a-long-password-1", "a-different-one-2")
    assert code != 0  # the two entries differ: nothing is set
    code, out = set_password(tmp_path, "ana", "a-long-password-1", "a-long-password-1")
    assert code == 0, out
    assert "password of ana set" in out
    assert "a-long-password-1" not in out  # never echoed

    engine = make_engine(f"sqlite:///{tmp_path}/cli.db")
    with Session(engine) as session:
        assert passwords.verify(session, "ana", "a-long-password-1")
        assert not passwords.verify(session, "ana", "a-different-one-2")
    engine.dispose()

    code, out = set_password(tmp_path, "ana", "short", "short")
    assert code == 2 and "at least" in out
    refused = run(["user", "set-password", "nobody"], tmp_path)
    assert refused.returncode == 1 and "no user 'nobody'" in refused.stderr

    listing = run(["user", "list"], tmp_path)
    assert listing.returncode == 0, listing.stderr
    rows_ = [line.replace("│", " ").split() for line in listing.stdout.splitlines()]
    lines = {cells[0]: " ".join(cells) for cells in rows_ if cells and cells[0] in ("ana", "vera")}
    assert "admin" in lines["ana"] and "set" in lines["ana"]
    assert "viewer" in lines["vera"] and "none" in lines["vera"]

    audit = run(["audit", "list", "--json", "--action", "user."], tmp_path)
    rows = [json.loads(line) for line in audit.stdout.splitlines()]
    assert [r["action"] for r in rows] == ["user.set_password"]
    assert rows[0]["target"] == "user:ana" and rows[0]["source"] == "cli"
    table = run(["audit", "list"], tmp_path)
    assert "user.set_password" in table.stdout
    assert run(["audit", "list", "--since", "lots"], tmp_path).returncode == 2
