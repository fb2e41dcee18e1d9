"""Incidents changed through each surface (API, web UI form, a real `opsbook` CLI process on the same
database) and a check going down in the pipeline show on the very next read of /status.json: no reader
is served a page older than the last committed change it shows, and no surface keeps it fresh by hand."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from opsbook.auth.roles import Role
from opsbook.auth.tokens import create_token
from opsbook.checks.result import CheckResult, StoredResult
from opsbook.clock import FakeClock, SystemClock
from opsbook.pipeline import Pipeline
from tests.web_ui.test_pages import sign_in
from tests.web_ui.ui_support import CONFIG, runtime_for, ui_app

OPSBOOK = str(Path(sys.executable).parent / "opsbook")


def test_incident_changes_from_every_surface_show_on_the_next_read(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    runtime = runtime_for(sqlite_engine, SystemClock())
    app = ui_app(runtime)
    public = TestClient(app)

    def incident() -> dict[str, Any] | None:
        active = public.get("/status.json").json()["active_incidents"]
        return active[0] if active else None

    assert incident() is None  # built and cached from here on
    with runtime.sessions.begin() as session:
        token = create_token(session, "responder", Role.RESPONDER, runtime.clock.now())
    api = {"Authorization": f"Bearer {token}"}
    opened = public.post("/api/v1/incidents", headers=api, json={
        "title": "Checkout fails", "severity": "P1", "service": "api", "customer_facing": True})
    assert opened.status_code == 201, opened.text
    number = opened.json()["id"]
    shown = incident()
    assert shown is not None and shown["title"] == "Checkout fails"

    rick, csrf = sign_in(app, "rick")
    form = {"csrf_token": csrf, "status": "identified", "message": "A bad deploy of the payment client"}
    assert rick.post(f"/ui/incidents/{number}/status", data=form).status_code == 200
    shown = incident()
    assert shown is not None and shown["status"] == "identified"
    assert not any("bad deploy" in u["text"] for u in shown["updates"])  # a status message is the team's
    form = {"csrf_token": csrf, "text": "Card payments fail; a fix is on its way.", "status": "identified"}
    assert rick.post(f"/ui/incidents/{number}/public-updates", data=form).status_code == 200
    shown = incident()
    assert shown is not None and shown["updates"][0]["text"] == "Card payments fail; a fix is on its way."

    config = tmp_path / "opsbook.yaml"
    config.write_text(CONFIG)
    env = {**os.environ, "OPSBOOK_CONFIG": str(config), "OPSBOOK_USER": "rick",
           "OPSBOOK_DATABASE_URL": sqlite_engine.url.render_as_string(hide_password=False)}
    resolve = [OPSBOOK, "incident", "resolve", str(number), "-m", "rolled back"]  # another process
    done = subprocess.run(resolve, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert incident() is None
    past = public.get("/status.json").json()["past_incidents"]
    assert [p["title"] for p in past] == ["Checkout fails"] and past[0]["status"] == "resolved"


async def test_a_public_check_going_down_shows_on_the_next_read(sqlite_engine: Engine) -> None:
    clock = FakeClock()
    runtime = runtime_for(sqlite_engine, clock)
    pipeline = Pipeline(runtime)
    app = ui_app(runtime)
    public = TestClient(app)

    def api_state() -> str:
        services = public.get("/status.json").json()["services"]
        return str(next(s["state"] for s in services if s["name"] == "api"))

    for check in ("api/health", "api/login"):
        pipeline.record(StoredResult(check, clock.now(), CheckResult.up(12.0)))
    await pipeline.writer.flush()
    assert api_state() == "operational"
    await clock.advance(timedelta(seconds=30))
    for check in ("api/health", "api/login"):
        pipeline.record(StoredResult(check, clock.now(), CheckResult.down("connection refused")))
    await pipeline.writer.flush()
    assert api_state() == "major_outage"  # no refresh interval passed: the change itself rebuilt it
