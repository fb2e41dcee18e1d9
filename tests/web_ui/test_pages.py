"""Every page renders for a signed-in user; actions on silences, maintenance and handoffs go through the
domain services with their audit rows; the dashboard's query count does not grow with the checks."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, select

from opsbook.auth.models import AuditRow
from opsbook.auth.roles import SYSTEM
from opsbook.auth.sessions import LOGIN_COOKIE
from opsbook.checks.result import Status
from opsbook.clock import FakeClock
from opsbook.incidents import lifecycle as incidents
from opsbook.runtime import Runtime
from opsbook.silences.models import SilenceRow
from opsbook.web.ui.ops_pages import week_grid
from tests.web_ui.ui_support import CONFIG, PASSWORD, runtime_for, ui_app, write


def sign_in(app: FastAPI, user: str) -> tuple[TestClient, str]:
    client = TestClient(app)
    csrf = client.get("/login").cookies[LOGIN_COOKIE]
    r = client.post("/login", data={"username": user, "password": PASSWORD, "csrf_token": csrf})
    assert r.status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', r.text)
    assert token is not None
    return client, token.group(1)


@pytest.fixture
def runtime(sqlite_engine: Engine, clock: FakeClock) -> Runtime:
    return runtime_for(sqlite_engine, clock)


def test_every_page_renders(runtime: Runtime) -> None:
    now = runtime.clock.now()
    write(runtime, [("api/health", now - timedelta(minutes=m), Status.UP, "ok") for m in range(30, 0, -1)])
    with runtime.sessions.begin() as session:
        row = incidents.open_incident(
            session, runtime.config, now, title="API slow", severity="P2", service="api"
        )
        incidents.add_note(
            session, runtime.config, row.id, "looking at <script>alert(1)</script>", now, SYSTEM
        )
    client, _ = sign_in(ui_app(runtime), "vera")
    pages = {
        "/ui/": "api/health",
        "/ui/dashboard/live": "api/health",
        "/ui/?status=up&service=api&q=health": "api/health",
        "/ui/checks/api/health": "uptime-90d",
        "/ui/checks/api/health?range=7d": "Latency",
        "/ui/incidents": "API slow",
        "/ui/incidents?state=all": "API slow",
        f"/ui/incidents/{row.id}": "looking at",
        f"/ui/incidents/{row.id}/timeline": "looking at",
        "/ui/alerts": "Alerts",
        "/ui/silences": "Silences",
        "/ui/maintenance": "Maintenance",
        "/ui/oncall": "this week",
        "/ui/runbooks": "Procedures",
        "/ui/oplog": "Operations log",
    }
    for path, text in pages.items():
        r = client.get(path)
        assert r.status_code == 200, (path, r.text[:300])
        assert text in r.text, path
        assert "<script>alert(1)" not in r.text  # escaped everywhere
    assert client.get("/ui/checks/api/nope").status_code == 404
    assert client.get("/ui/incidents/999").status_code == 404
    assert client.get("/ui/audit").status_code == 403  # admins only
    assert client.get("/ui/", headers={"HX-Request": "true"}).status_code == 200
    anonymous = TestClient(ui_app(runtime))
    r = anonymous.get("/ui/dashboard/live", headers={"HX-Request": "true"})
    assert r.status_code == 401 and r.headers["HX-Redirect"].startswith("/login")


def test_silences_and_maintenance_from_the_browser(runtime: Runtime) -> None:
    app = ui_app(runtime)
    rick, token = sign_in(app, "rick")
    r = rick.post(
        "/ui/silences",
        data={"csrf_token": token, "matchers": "service=api", "duration": "2h", "comment": "deploy 1.4"},
    )
    assert r.status_code == 200 and "created" in r.text
    with runtime.sessions() as session:
        silence = session.scalars(select(SilenceRow)).one()
    assert silence.created_by == "rick" and silence.ends_at == runtime.clock.now() + timedelta(hours=2)
    r = rick.post("/ui/silences", data={"csrf_token": token, "matchers": "service=api", "comment": ""})
    assert "needs a comment" in r.text
    r = rick.post(f"/ui/silences/{silence.id}/expire", data={"csrf_token": token})
    assert "expired" in r.text

    r = rick.post(
        "/ui/maintenance",
        data={
            "csrf_token": token,
            "title": "DB upgrade",
            "services": ["api", "web"],
            "starts": "1h",
            "duration": "30m",
        },
    )
    assert "scheduled" in r.text, r.text[:500]
    status = TestClient(app).get("/status.json").json()
    assert [m["title"] for m in status["maintenance"]] == ["DB upgrade"]
    r = rick.post(
        "/ui/oncall/handoff", data={"csrf_token": token, "schedule": "primary", "note": "disk on db2"}
    )
    assert "disk on db2" in r.text

    vera, vtoken = sign_in(app, "vera")
    r = vera.post("/ui/silences", data={"csrf_token": vtoken, "matchers": "service=api", "comment": "x"})
    assert r.status_code == 403
    with runtime.sessions() as session:
        actions = [a.action for a in session.scalars(select(AuditRow).order_by(AuditRow.id))]
    for action in ("silence.create", "silence.expire", "maintenance.create", "oncall.handoff.note"):
        assert action in actions
    ana, _ = sign_in(app, "ana")
    assert "silence.create" in ana.get("/ui/audit").text


def test_dashboard_queries_do_not_grow_with_checks(sqlite_engine: Engine, clock: FakeClock) -> None:
    many = "\n".join(
        f"      - {{name: c{i}, kind: tcp, host: 127.0.0.1, port: 1, interval: 30s}}" for i in range(1500)
    )
    config = CONFIG.replace("users:", f"  - name: bulk\n    checks:\n{many}\nusers:", 1)
    runtime = runtime_for(sqlite_engine, clock, config)
    now = clock.now()
    write(runtime, [(f"bulk/c{i}", now, Status.DOWN if i % 10 == 0 else Status.UP, "x") for i in range(1500)])
    client, _ = sign_in(ui_app(runtime), "vera")
    statements: list[str] = []
    event.listen(sqlite_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    r = client.get("/ui/dashboard/live")
    assert r.status_code == 200
    assert r.text.count("data-check=") == 50  # one page
    assert "150 down" in r.text
    assert len(statements) < 25, statements
    statements.clear()
    assert client.get("/ui/dashboard/live?page=30").status_code == 200
    assert len(statements) < 25


def test_week_grid_splits_shifts_by_day() -> None:
    from datetime import UTC, date, datetime

    from opsbook.oncall.rotation import Shift

    shifts = [
        Shift("ana", datetime(2026, 1, 5, 9, tzinfo=UTC), datetime(2026, 1, 12, 9, tzinfo=UTC)),
        Shift(
            "ben", datetime(2026, 1, 12, 9, tzinfo=UTC), datetime(2026, 1, 13, 0, tzinfo=UTC), ("override:1",)
        ),
    ]
    grid = week_grid(shifts, date(2026, 1, 5), "UTC", date(2026, 1, 6))
    assert grid[0][0].shifts == [("ana", "09:00–24:00", False)]
    assert grid[0][1].today and grid[0][1].shifts == [("ana", "00:00–24:00", False)]
    assert grid[1][0].shifts == [("ana", "00:00–09:00", False), ("ben", "09:00–24:00", True)]
    assert grid[1][1].shifts == []
