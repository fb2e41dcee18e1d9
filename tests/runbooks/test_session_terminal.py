"""The issue's case in a real terminal (pexpect, the real `opsbook` script): `export FOO=…; cd /tmp` then
`echo "$FOO in $(pwd)"` asks for nothing and prints the value in the new folder; a password set by a step
is masked in the echo and the output, the terminal is lost, and `runbook resume` asks for it (hidden)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pexpect
import pytest

from tests.runbooks.test_cli_terminal import OPSBOOK

PASSWORD = "hunter2-very-secret"
RUNBOOK = f"""\
# Ops

## Release

```bash
# Go to the release folder
export FOO=from-step-one; cd {{folder}}

# Where are we
echo "$FOO in $(pwd)"

# Log in
export DB_PASSWORD='{PASSWORD}'

# Use it
test -n "$DB_PASSWORD" && echo "pw=$DB_PASSWORD in $(pwd)"
```
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "release").mkdir()
    (tmp_path / "runbooks" / "ops.md").write_text(RUNBOOK.format(folder=tmp_path / "release"))
    config = tmp_path / "opsbook.yaml"
    config.write_text("runbooks:\n  folders: [runbooks]\n  default_timeout: 30s\n")
    return {
        **{k: v for k, v in os.environ.items() if k not in ("FOO", "DB_PASSWORD")},
        "OPSBOOK_CONFIG": str(config),
        "OPSBOOK_DATABASE_URL": f"sqlite:///{tmp_path}/opsbook.db",
        "NO_COLOR": "1",
        "TERM": "dumb",
        "COLUMNS": "200",
        "OPSBOOK_USER": "alice",
    }


def _spawn(args: list[str], env: dict[str, str]) -> pexpect.spawn:
    child = pexpect.spawn(OPSBOOK, args, env=env, encoding="utf-8", timeout=30, dimensions=(50, 200))
    child.logfile_read = io.StringIO()
    return child


def _run_step(child: pexpect.spawn, title: str) -> None:
    child.expect(title)
    child.expect(r"Run this step\?")
    child.sendline("r")


def test_a_run_is_one_terminal_session(env: dict[str, str], tmp_path: Path) -> None:
    release = tmp_path / "release"
    child = _spawn(["runbook", "run", "release"], env)
    child.expect(r"Run (\d+)")  # no parameter asked: FOO is set by the first step
    run_id = child.match.group(1)
    _run_step(child, r"Step 1/4.*Go to the release folder")
    _run_step(child, r"Step 2/4.*Where are we")
    child.expect(f"from-step-one in {release}")
    child.expect(r"Step 3/4.*Log in")
    child.expect(r"export DB_PASSWORD='\*\*\*'")  # the echo of the command
    child.expect(r"Run this step\?")
    child.sendline("r")
    child.expect(r"ok \(exit 0")
    child.expect(r"Step 4/4.*Use it")
    child.expect(r"Run this step\?")
    child.kill(9)  # the terminal goes away
    child.close(force=True)
    assert PASSWORD not in child.logfile_read.getvalue()

    resumed = _spawn(["runbook", "resume", run_id], env)
    resumed.expect("DB_PASSWORD was set by an earlier step.*hidden")
    resumed.sendline(PASSWORD)
    _run_step(resumed, r"Step 4/4.*Use it")
    resumed.expect(rf"pw=\*\*\* in {release}")
    resumed.expect(rf"Run {run_id} succeeded")
    resumed.expect(pexpect.EOF)
    resumed.close()
    assert resumed.exitstatus == 0
    assert PASSWORD not in resumed.logfile_read.getvalue()
    for stored in tmp_path.glob("opsbook.db*"):  # the database (and its journal) never held it
        assert PASSWORD.encode() not in stored.read_bytes(), stored.name
