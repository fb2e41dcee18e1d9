"""Publishing an incident an alert opened, and its public updates, from the CLI (a real `opsbook`
process), the API and the incident page, through the real app over HTTP: each reaches /status on the very
next read; an unpublished incident shows under a generic name with no text a responder typed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from tests.support import serving
from tests.web_ui.test_pages import sign_in
from tests.web_ui.ui_support import CONFIG, runtime_for

from opsbook.auth.models import AuditRow
from opsbook.auth.roles import Role
from opsbook.auth.tokens import create_token
from opsbook.checks.result import CheckResult, StoredResult
from opsbook.clock import FakeClock
from opsbook.incidents.models import IncidentRow, TimelineRow
from opsbook.pipeline import Pipeline
from opsbook.web.app import create_app
from opsbook.web.ui import mount_ui

OPSBOOK = str(Path(sys.executable).parent / "opsbook")


def _cli(engine: Engine, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "opsbook.yaml"
    config.write_text(CONFIG)
    env = {**os.environ, "OPSBOOK_CONFIG": str(config), "OPSBOOK_USER": "rick", "COLUMNS": "100",
           "OPSBOOK_DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    return subprocess.run([OPSBOOK, "incident", *args], env=env, capture_output=True, text=True, timeout=60)


async def test_a_responder_publishes_an_alert_incident_and_its_updates_reach_status(
    sqlite_engine: Engine, clock: FakeClock, tmp_path: Path
) -> None:
    runtime = runtime_for(sqlite_engine, clock)
    pipeline = Pipeline(runtime)
    app = create_app(runtime, pipeline)
    mount_ui(app, runtime)
    for _ in range(3):  # api/health fails three times in a row: the alert fires and opens incident 1
        pipeline.record(StoredResult("api/health", clock.now(), CheckResult.down("connection refused")))
        await pipeline.writer.flush()
        await clock.advance(timedelta(seconds=30))
    with runtime.sessions() as s:
        row = s.get(IncidentRow, 1)
        assert row is not None and row.source == "rule" and not row.customer_facing
        internal_title = row.title
    with runtime.sessions.begin() as s:
        token = create_token(s, "rick", Role.RESPONDER, clock.now())
        viewer = create_token(s, "vera", Role.VIEWER, clock.now())
    responder = {"Authorization": f"Bearer {token}"}

    async with serving(app) as base, httpx.AsyncClient(base_url=base) as http:
        async def shown() -> dict[str, Any]:
            [incident] = (await http.get("/status.json")).json()["active_incidents"]
            return dict(incident)

        generic = await shown()
        assert generic["title"] == "Major outage: api"  # its one check with results is down
        assert [u["text"] for u in generic["updates"]] == ["We are investigating a problem."]
        assert (await http.get("/status.json")).json()["sentence"] == "Major outage: api"
        assert internal_title not in (await http.get("/status")).text

        refused = await http.post("/api/v1/incidents/1/public-updates", headers=responder,
                                  json={"text": "We are looking into it."})
        assert refused.status_code == 409
        assert 'opsbook incident publish 1 --title "…"' in refused.json()["detail"]

        done = _cli(sqlite_engine, tmp_path, "publish", "1", "--title", "Login errors", "-m",
                    "Some customers cannot sign in; we are investigating.")
        assert done.returncode == 0, done.stderr
        assert "incident 1 is on the status page as “Login errors” with a first update" in done.stdout
        published = await shown()  # the CLI's change, committed by another process, on the next read
        assert published["title"] == "Login errors"
        assert [(u["status"], u["text"]) for u in published["updates"]] == [
            ("investigating", "Some customers cannot sign in; we are investigating.")]

        done = _cli(sqlite_engine, tmp_path, "update", "1", "--public", "The cause is found: a full disk.",
                    "--status", "identified")
        assert done.returncode == 0, done.stderr
        assert "public update 2 of incident 1 posted (identified)" in done.stdout
        assert (await shown())["updates"][0]["text"] == "The cause is found: a full disk."

        fixed = await http.patch("/api/v1/incidents/1/public-updates/2", headers=responder,
                                 json={"text": "The cause is found: a full database disk."})
        assert fixed.status_code == 200 and fixed.json()["edited_at"] is not None
        latest = (await shown())["updates"][0]
        assert (latest["text"], latest["status"], latest["edited"]) == (
            "The cause is found: a full database disk.", "identified", True)
        assert "· edited" in (await http.get("/status")).text

        bad = await http.post("/api/v1/incidents/1/public-updates", headers=responder,
                              json={"text": "x", "status": "fixed"})
        assert bad.status_code == 400 and "investigating, identified, monitoring, resolved" in bad.text
        forbidden = await http.post("/api/v1/incidents/1/publish", json={"title": "Nope"},
                                    headers={"Authorization": f"Bearer {viewer}"})
        assert forbidden.status_code == 403
        missing = await http.patch("/api/v1/incidents/1/public-updates/9", headers=responder,
                                   json={"text": "x"})
        assert missing.status_code == 404 and "no public update 9" in missing.text

        detail = (await http.get("/api/v1/incidents/1", headers=responder)).json()
        assert detail["customer_facing"] is True and detail["public_title"] == "Login errors"
        assert [u["number"] for u in detail["public_updates"]] == [1, 2]
        draft = (await http.get("/api/v1/incidents/1/postmortem", headers=responder)).text
        assert "- Status page: published as “Login errors” (public updates: see the timeline)" in draft
        assert "Public update 2 (identified): The cause is found: a full disk." in draft

        shown_cli = _cli(sqlite_engine, tmp_path, "show", "1")
        assert "Status page: published as “Login errors”" in shown_cli.stdout
        assert "2. " in shown_cli.stdout and "identified: The cause is found: a full database disk." in (
            shown_cli.stdout)

        unpublished = await http.post("/api/v1/incidents/1/unpublish", headers=responder)
        assert unpublished.status_code == 200
        hidden = await shown()
        assert hidden["title"] == "Major outage: api"
        assert all("disk" not in u["text"] for u in hidden["updates"])

    with runtime.sessions() as s:
        actions = list(s.scalars(select(AuditRow.action).where(AuditRow.target == "incident:1")
                                 .order_by(AuditRow.id)))
        kinds = list(s.scalars(select(TimelineRow.kind).where(TimelineRow.incident_id == 1)
                               .order_by(TimelineRow.id)))
    assert actions == ["incident.publish", "incident.public_update", "incident.public_update",
                       "incident.public_update_edit", "incident.unpublish"]
    assert kinds[-5:] == ["published", "public_update", "public_update", "public_update_edited",
                          "unpublished"]


def test_the_incident_page_publishes_and_posts_public_updates(
    sqlite_engine: Engine, clock: FakeClock
) -> None:
    runtime = runtime_for(sqlite_engine, clock)
    app = create_app(runtime, run_pipeline=False)
    mount_ui(app, runtime)
    rick, csrf = sign_in(app, "rick")
    with runtime.sessions.begin() as s:
        token = create_token(s, "rick-token", Role.RESPONDER, clock.now())
    api = TestClient(app)
    made = api.post("/api/v1/incidents", headers={"Authorization": f"Bearer {token}"},
                    json={"title": "db pool exhausted", "severity": "P1", "service": "api"})
    number = made.json()["id"]

    page = rick.get(f"/ui/incidents/{number}").text
    assert 'id="publish-form"' in page and "not published: shown under a generic name" in page
    form = {"csrf_token": csrf, "title": "Slow API", "message": "Requests are slow; we are on it.",
            "status": "investigating"}
    answer = rick.post(f"/ui/incidents/{number}/publish", data=form)
    assert answer.status_code == 200 and "On the status page." in answer.text
    assert 'id="public-update-form"' in answer.text and "published as “Slow API”" in answer.text
    answer = rick.post(f"/ui/incidents/{number}/public-updates",
                       data={"csrf_token": csrf, "text": "A fix is deployed.", "status": "monitoring"})
    assert "Public update posted" in answer.text
    answer = rick.post(f"/ui/incidents/{number}/public-updates/2",
                       data={"csrf_token": csrf, "text": "A fix is deployed; watching.",
                             "status": "monitoring"})
    assert "Public update 2 corrected." in answer.text
    assert re.search(r'id="public-update-2".*?A fix is deployed; watching\.', answer.text, re.S)
    answer = rick.post(f"/ui/incidents/{number}/public-updates",
                       data={"csrf_token": csrf, "text": "  ", "status": "monitoring"})
    assert "a public update needs a text" in answer.text

    status = TestClient(app).get("/status.json").json()
    [incident] = status["active_incidents"]
    assert incident["title"] == "Slow API"
    assert [u["text"] for u in incident["updates"]] == ["A fix is deployed; watching.",
                                                        "Requests are slow; we are on it."]

    answer = rick.post(f"/ui/incidents/{number}/resolve", data={"csrf_token": csrf, "message": "fixed"})
    acked = re.search(r'<td id="acked">(.*?)</td>', answer.text, re.S)
    assert acked is not None and "never (resolved without an acknowledgement)" in acked.group(1)
