"""Chores through their surfaces: the pipeline's chore watch on the fake clock (falls due, tells the
assignee), the API (viewer reads, responder skips, mistakes answered 4xx) on a real HTTP server, and
`opsbook chore list|done|skip` as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from opsbook.auth.roles import Role
from opsbook.auth.tokens import create_token
from opsbook.chores.models import ChoreDueRow
from opsbook.clock import FakeClock
from opsbook.notify.models import OutboxRow
from opsbook.pipeline import Pipeline
from opsbook.web.app import create_app
from tests.backups.support import settle
from tests.chores.test_chores import RUNBOOK, config
from tests.support import make_runtime, serving

OPSBOOK = str(Path(sys.executable).parent / "opsbook")
DUE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _rows(engine: Engine) -> list[ChoreDueRow]:
    with Session(engine) as s:
        return list(s.scalars(select(ChoreDueRow).order_by(ChoreDueRow.id)))


async def test_the_watch_and_the_api(sqlite_engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "chores.md").write_text(RUNBOOK)
    clock = FakeClock(DUE - timedelta(hours=1))
    runtime = make_runtime(sqlite_engine, clock, config(tmp_path / "runbooks"))
    pipeline = Pipeline(runtime)
    await pipeline.start()
    try:
        await settle(pipeline)
        assert _rows(sqlite_engine) == []
        await clock.advance_to(DUE)
        await settle(pipeline, lambda: len(_rows(sqlite_engine)) == 1)
        with Session(sqlite_engine) as s:
            told = s.scalars(select(OutboxRow).where(OutboxRow.kind == "chore")).one()
        assert told.channel == "contact:ana:1"
        with runtime.sessions.begin() as s:
            viewer = create_token(s, "vic", Role.VIEWER, clock.now())
            responder = create_token(s, "ana", Role.RESPONDER, clock.now())
        async with serving(create_app(runtime, pipeline, run_pipeline=False)) as base, \
                httpx.AsyncClient(base_url=base) as http:
            as_viewer = {"Authorization": f"Bearer {viewer}"}
            as_responder = {"Authorization": f"Bearer {responder}"}
            listed = (await http.get("/api/v1/chores", headers=as_viewer)).json()
            [chore] = listed
            assert (chore["name"], chore["assignee"], chore["open"]["status"]) == (
                "rotate-db-passwords", "on call: primary", "due")
            assert chore["next_due"] == "2026-03-09T09:00:00Z"
            due_id = chore["open"]["id"]
            url = f"/api/v1/chores/occurrences/{due_id}/skip"
            assert (await http.post(url, json={"note": "x"}, headers=as_viewer)).status_code == 403
            assert (await http.post(url, json={"note": ""}, headers=as_responder)).status_code == 400
            missing = "/api/v1/chores/occurrences/999/skip"
            assert (await http.post(missing, json={"note": "x"}, headers=as_responder)).status_code == 404
            skipped = await http.post(url, json={"note": "migrated"}, headers=as_responder)
            assert skipped.status_code == 200 and skipped.json()["status"] == "skipped"
            again = await http.post(url, json={"note": "migrated"}, headers=as_responder)
            assert again.status_code == 409
            assert (await http.get("/api/v1/chores")).status_code == 401
    finally:
        await pipeline.stop()


def test_the_cli(sqlite_engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "chores.md").write_text(RUNBOOK)
    (tmp_path / "opsbook.yaml").write_text(config(tmp_path / "runbooks"))
    with Session(sqlite_engine) as s, s.begin():
        for due in (DUE, DUE + timedelta(days=7)):
            s.add(ChoreDueRow(chore="rotate-db-passwords", procedure="Rotate database passwords", due_at=due,
                              deadline=due + timedelta(days=1), assignee="ana", status="due", reason=""))
    env = {**os.environ, "OPSBOOK_CONFIG": str(tmp_path / "opsbook.yaml"),
           "OPSBOOK_DATABASE_URL": str(sqlite_engine.url), "OPSBOOK_USER": "ana", "COLUMNS": "80",
           "NO_COLOR": "1"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([OPSBOOK, "chore", *args], env=env, capture_output=True, text=True, timeout=60,
                              check=False)

    listed = cli("list")
    assert listed.returncode == 0, listed.stderr
    assert "rotate-db-passwords" in listed.stdout and "#1 due " in listed.stdout and "ana" in listed.stdout
    assert "2026-03-03 10:00 CET" in listed.stdout  # the deadline in the team's zone
    assert max(len(line) for line in listed.stdout.splitlines()) <= 80
    done = cli("done", "1", "--note", "rotated in the vault UI")
    assert done.returncode == 0 and "chore rotate-db-passwords #1 done; operations log entry #" in done.stdout
    no_reason = cli("skip", "2")
    assert no_reason.returncode != 0 and "--reason" in no_reason.stderr + no_reason.stdout
    assert cli("skip", "2", "--reason", "no database this week").returncode == 0
    assert cli("skip", "2", "--reason", "again").returncode != 0
    history = cli("list", "--all")
    assert "skipped (ana):" in history.stdout and "no database" in history.stdout
    assert [r.status for r in _rows(sqlite_engine)] == ["done", "skipped"]
