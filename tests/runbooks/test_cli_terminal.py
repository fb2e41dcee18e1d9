"""The real `opsbook` console script in a real terminal (pexpect): run a step, skip one, answer a checklist
item, fail a step, refuse a destructive step without its typed name, lose the terminal mid-run, resume."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

OPSBOOK = str(Path(sys.executable).parent / "opsbook")
SECRET = "tok-9f8e7d6c5b4a"

RUNBOOK = """\
# Ops

## Troubleshooting

### API Not Responding

```bash
# Say hello
echo "hello from step one, token $API_TOKEN"

# Skipped step
touch {skipmark}
```

- [ ] Dashboard is green

```bash
# Break it
echo failing >&2; exit 7

# Wipe temp
rm -rf <dir>/junk && echo wiped

# Last words
echo done-at-last
```
"""


@pytest.fixture
def setup(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "ops.md").write_text(RUNBOOK.format(skipmark=tmp_path / "skipped"))
    (tmp_path / "junk").mkdir()
    config = tmp_path / "opsbook.yaml"
    config.write_text("runbooks:\n  folders: [runbooks]\n  default_timeout: 30s\n")
    env = {
        **os.environ,
        "OPSBOOK_CONFIG": str(config),
        "OPSBOOK_DATABASE_URL": f"sqlite:///{tmp_path}/opsbook.db",
        "NO_COLOR": "1",
        "TERM": "dumb",
        "COLUMNS": "200",
        "API_TOKEN": SECRET,
        "OPSBOOK_USER": "alice",
    }
    return env


def _spawn(args: list[str], env: dict[str, str]) -> pexpect.spawn:
    child = pexpect.spawn(OPSBOOK, args, env=env, encoding="utf-8", timeout=30, dimensions=(50, 200))
    child.logfile_read = io.StringIO()  # the whole transcript, to check no secret was ever shown
    return child


def test_interactive_run_disconnect_and_resume(setup: dict[str, str], tmp_path: Path) -> None:
    env = setup
    child = _spawn(
        [
            "runbook",
            "run",
            "api not responding",
            "--param",
            f"dir={tmp_path}",
            "--incident",
            "17",
            "--reason",
            "API down",
        ],
        env,
    )
    child.expect(r"Run (\d+)")
    run_id = child.match.group(1)
    child.expect(r"Step 1/6.*Say hello")
    child.expect(r"Run this step\?")
    child.sendline("r")
    child.expect("hello from step one, token \\*\\*\\*")
    child.expect(r"ok \(exit 0")
    child.expect(r"Step 2/6.*Skipped step")
    child.expect(r"Run this step\?")
    child.sendline("s")
    child.expect(r"Step 3/6.*Dashboard is green")
    child.expect(r"Done\?")
    child.sendline("d")
    child.expect(r"Step 4/6.*Break it")
    child.expect(r"Run this step\?")
    child.sendline("r")
    child.expect("failing")
    child.expect(r"failed: exit code 7")
    child.expect(r"Step failed")
    child.sendline("c")
    child.expect(r"Step 5/6.*Wipe temp")
    child.expect("DESTRUCTIVE")
    child.expect(r"Run this step\?")
    child.sendline("r")
    child.expect("Type the step name")
    child.sendline("wipe")
    child.expect("Not confirmed: the step was not run")
    child.expect(r"Step 5/6.*Wipe temp")
    child.expect(r"Run this step\?")
    assert (tmp_path / "junk").exists()
    child.kill(9)  # the terminal goes away mid-run
    child.close(force=True)
    assert not (tmp_path / "skipped").exists()
    assert SECRET not in child.logfile_read.getvalue()

    resumed = _spawn(["runbook", "resume", run_id], env)
    resumed.expect(f"Resuming run {run_id}")
    resumed.expect(r"Step 5/6.*Wipe temp")
    resumed.expect(r"Run this step\?")
    resumed.sendline("r")
    resumed.expect("Type the step name")
    resumed.sendline("wipe-temp")
    resumed.expect("wiped")
    resumed.expect(r"Step 6/6.*Last words")
    resumed.expect(r"Run this step\?")
    resumed.sendline("r")
    resumed.expect("done-at-last")
    resumed.expect(rf"Run {run_id} failed\. Operations log entry #(\d+)")
    entry_id = resumed.match.group(1)
    resumed.expect(pexpect.EOF)
    resumed.close()
    assert resumed.exitstatus == 1
    assert SECRET not in resumed.logfile_read.getvalue()
    assert not (tmp_path / "junk").exists()

    shown = subprocess.run(
        [OPSBOOK, "oplog", "show", entry_id, "--json"], env=env, capture_output=True, text=True, check=True
    )
    entry = json.loads(shown.stdout)
    assert SECRET not in shown.stdout
    assert entry["incident_id"] == "17" and entry["reason"] == "API down" and entry["operator"] == "alice"
    assert entry["duration_s"] > 0
    statuses = [(s["name"], s["status"], s["exit_code"]) for s in entry["steps"]]
    assert statuses == [
        ("say-hello", "succeeded", 0),
        ("skipped-step", "skipped", None),
        ("dashboard-is-green", "done", None),
        ("break-it", "failed", 7),
        ("wipe-temp", "succeeded", 0),
        ("last-words", "succeeded", 0),
    ]
    assert entry["steps"][0]["output"] == "hello from step one, token ***\n"
    assert all(s["duration_s"] is not None for s in entry["steps"] if s["exit_code"] is not None)
    assert "break-it" in entry["issues"]
    exported = subprocess.run(
        [OPSBOOK, "oplog", "export", "--incident", "17"], env=env, capture_output=True, text=True, check=True
    )
    assert "Follow-up:" in exported.stdout and "rm -rf" in exported.stdout and SECRET not in exported.stdout
    audit = subprocess.run(
        [OPSBOOK, "audit", "list", "--json", "--action", "runbook."], env=env, capture_output=True, text=True,
        check=True,
    )
    rows = [json.loads(line) for line in reversed(audit.stdout.splitlines())]
    assert {(r["actor"], r["source"]) for r in rows} == {("alice", "cli")}  # $OPSBOOK_USER, as everywhere
    actions = [r["action"] for r in rows]
    assert actions[0] == "runbook.run.start" and actions[actions.index("runbook.run.resume") - 1] == (
        "runbook.step.continue"  # the last answer before the terminal was lost: go past the failed step
    )
    assert actions[-1] == "runbook.step.run" and SECRET not in audit.stdout


def test_dry_run_import_and_unknown_names(setup: dict[str, str], tmp_path: Path) -> None:
    env = setup
    dry = subprocess.run(
        [OPSBOOK, "runbook", "run", "API Not Responding", "--dry-run", "--param", "<dir>=/srv/x"],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert dry.returncode == 0, dry.stderr
    assert "rm -rf /srv/x/junk" in dry.stdout and "$API_TOKEN: set in the environment" in dry.stdout
    assert SECRET not in dry.stdout
    assert (tmp_path / "junk").exists() and not (tmp_path / "skipped").exists()
    unknown = subprocess.run(
        [OPSBOOK, "runbook", "run", "API Not Respondng"],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert (
        unknown.returncode == 1
        and "close matches" in unknown.stderr
        and "API Not Responding" in unknown.stderr
    )
    imported = subprocess.run(
        [
            OPSBOOK,
            "runbook",
            "import",
            "--json",
            str(Path(__file__).parent / "data" / "examples" / "operations-template.md"),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(imported.stdout)
    assert data["title"] == "OPERATIONS Documentation" and len(data["procedures"]) == 20
    listed = subprocess.run(
        [OPSBOOK, "runbook", "list", "--json"], env=env, capture_output=True, text=True, check=True
    )
    (row,) = json.loads(listed.stdout)  # one set of steps, by the shortest name that runs it, and the others
    assert (row["name"], row["also"]) == ("Troubleshooting", ["Troubleshooting > API Not Responding"])
