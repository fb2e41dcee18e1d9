"""Starting a run is one use case whatever the surface: from the API, the web UI's incident page and the CLI
(a real `opsbook` process on the same database), the run, its steps and its audit row look the same but
for who started it and from where."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from opsbook.auth import passwords, service, sessions
from opsbook.auth.models import AuditRow
from opsbook.auth.roles import Role
from opsbook.auth.tokens import create_token
from opsbook.clock import SystemClock
from opsbook.runbooks.models import RunRow, RunStepRow
from opsbook.web.app import create_app
from tests.support import make_runtime

OPSBOOK = str(Path(sys.executable).parent / "opsbook")
RUNBOOK = """# Ops

## Clear cache

```bash
# Wipe
rm -rf <dir>/cache
```

- [ ] Graphs look fine
"""
PASSWORD = "a-long-password-1"
START = {"procedure": "Clear cache", "dir": "/srv/app", "incident": "7", "reason": "cache full"}
SAME = ("runbook", "runbook_title", "procedure_ref", "procedure_title", "procedure", "params", "incident_id",
        "reason", "impact", "follow_up", "status", "unattended", "keep_going")


def test_api_web_ui_and_cli_start_the_same_run(engine: Engine, db_url: str, tmp_path: Path) -> None:
    (tmp_path / "rb").mkdir()
    (tmp_path / "rb" / "ops.md").write_text(RUNBOOK)
    config = f"runbooks:\n  folders: ['{tmp_path / 'rb'}']\nusers:\n  - {{name: ana, role: responder}}\n"
    (tmp_path / "opsbook.yaml").write_text(config)
    runtime = make_runtime(engine, SystemClock(), config)
    with runtime.sessions.begin() as session:
        token = create_token(session, "deploy", Role.RESPONDER, runtime.clock.now())
        passwords.set_password(session, "ana", PASSWORD, runtime.clock.now())
    client = TestClient(create_app(runtime, run_pipeline=False))

    by_api = client.post(
        "/api/v1/runs",
        headers={"Authorization": f"Bearer {token}"},
        json={"procedure": START["procedure"], "params": {"dir": START["dir"]},
              "incident_id": START["incident"], "reason": START["reason"]},
    )
    assert by_api.status_code == 201, by_api.text

    browser = service.sign_in(runtime, "ana", PASSWORD, "testclient")
    client.cookies.set(sessions.COOKIE, browser.token)
    by_ui = client.post(
        f"/ui/incidents/{START['incident']}/runbook",
        data={"procedure": START["procedure"], "params": f"dir={START['dir']}", "reason": START["reason"],
              "csrf_token": browser.csrf_token},
        follow_redirects=False,
    )
    assert by_ui.status_code == 303 and by_ui.headers["location"].startswith("/ui/runbooks/runs/")

    env = {**os.environ, "OPSBOOK_CONFIG": str(tmp_path / "opsbook.yaml"), "OPSBOOK_DATABASE_URL": db_url,
           "NO_COLOR": "1"}
    by_cli = subprocess.run(  # stdin is no terminal: the walk stops at its first question, the run stays
        [OPSBOOK, "runbook", "run", START["procedure"], "--param", f"dir={START['dir']}",
         "--incident", START["incident"], "--reason", START["reason"], "--as", "ana"],
        env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60,
    )
    assert by_cli.returncode == 130 and "Resume with: opsbook runbook resume" in by_cli.stdout, by_cli.stderr

    with runtime.sessions() as session:
        runs = session.scalars(select(RunRow).order_by(RunRow.id)).all()
        steps = {
            run.id: [(s.position, s.name, s.kind, s.command, s.status) for s in session.scalars(
                select(RunStepRow).where(RunStepRow.run_id == run.id).order_by(RunStepRow.position))]
            for run in runs
        }
        audit = session.scalars(
            select(AuditRow).where(AuditRow.action == "runbook.run.start").order_by(AuditRow.id)
        ).all()
    assert [run.operator for run in runs] == ["token:deploy", "ana", "ana"]
    shown: list[dict[str, Any]] = [{f: getattr(run, f) for f in SAME} for run in runs]
    assert shown[0] == shown[1] == shown[2]
    assert shown[0]["params"] == {"dir": "/srv/app"} and shown[0]["incident_id"] == "7"
    assert steps[runs[0].id][0] == (0, "wipe", "shell", "rm -rf /srv/app/cache", "pending")
    assert steps[runs[0].id] == steps[runs[1].id] == steps[runs[2].id]
    assert [(a.actor, a.source) for a in audit] == [("token:deploy", "testclient"), ("ana", "testclient"),
                                                    ("ana", "cli")]
    assert {(a.target, a.detail["incident_id"]) for a in audit} == {("ops/clear-cache", "7")}
    assert [a.detail["run_id"] for a in audit] == [run.id for run in runs]
