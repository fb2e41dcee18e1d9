"""What admins see and do: /ui/subscribers with addresses masked (a viewer reads it, only an admin
removes, audit-logged), the API (masked list, 403 / 404 / 204 on removal), `opsbook subscribers
list|remove` as a real process at 80 columns, and the maintenance calendar /status/maintenance.ics."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from icalendar import Calendar
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from opsbook.auth import passwords
from opsbook.auth.models import AuditRow
from opsbook.auth.roles import SYSTEM, Role
from opsbook.auth.sessions import LOGIN_COOKIE
from opsbook.auth.tokens import create_token
from opsbook.clock import FakeClock
from opsbook.runtime import Runtime
from opsbook.silences import service as silences
from opsbook.subscribers import links, service
from opsbook.subscribers.models import SubscriberRow
from opsbook.web.app import create_app
from tests.subscribers.support import START, config, runtime_of, subscribers

OPSBOOK = str(Path(sys.executable).parent / "opsbook")
PASSWORD = "correct horse battery"
USERS = """\
users:
  - {name: ana, role: admin}
  - {name: vera, role: viewer}
maintenance_windows:
  - name: sunday-db
    title: Weekly database care
    services: [api, billing-db]
    cron: "0 2 * * 0"
    duration: 2h
    timezone: Europe/Berlin
"""
EMAIL = "jane.doe@example.com"
HOOK = "https://hooks.example.net/T0/B1/abcdef"


def _subscribe(runtime: Runtime, kind: str, address: str) -> int:
    service.subscribe(runtime, service.visitor("192.0.2.7"), kind, address, [])
    with runtime.sessions.begin() as s:
        row = s.scalars(select(SubscriberRow).order_by(SubscriberRow.id.desc())).first()
        assert row is not None
        token = links.make(s, runtime.config, links.CONFIRM, row.id, row.confirm_nonce, runtime.clock.now())
    service.confirm(runtime, service.visitor("192.0.2.7"), token)
    return row.id


def _runtime(engine: Engine) -> Runtime:
    runtime = runtime_of(engine, FakeClock(START), 25, USERS)
    with runtime.sessions.begin() as s:
        for user in ("ana", "vera"):
            passwords.set_password(s, user, PASSWORD, START)
    return runtime


def _sign_in(client: TestClient, user: str) -> str:
    csrf = client.get("/login").cookies[LOGIN_COOKIE]
    answer = client.post("/login", data={"username": user, "password": PASSWORD, "csrf_token": csrf})
    token = re.search(r'name="csrf_token" value="([^"]+)"', answer.text)
    assert answer.status_code == 200 and token is not None
    return token.group(1)


def test_the_admin_page_masks_addresses_and_only_an_admin_removes(sqlite_engine: Engine) -> None:
    runtime = _runtime(sqlite_engine)
    first = _subscribe(runtime, "email", EMAIL)
    _subscribe(runtime, "webhook", HOOK)
    app = create_app(runtime, run_pipeline=False)
    with TestClient(app, base_url="https://status.acme.test") as viewer:  # the session cookie is Secure
        csrf = _sign_in(viewer, "vera")
        page = viewer.get("/ui/subscribers")
        assert page.status_code == 200
        assert "j***@e***.com" in page.text and "https://ho***.net/…" in page.text
        for secret in (EMAIL, "jane.doe", "example.com", HOOK, "abcdef"):
            assert secret not in page.text
        assert "Remove" not in page.text
        refused = viewer.post(f"/ui/subscribers/{first}/remove", data={"csrf_token": csrf},
                              follow_redirects=False)
        assert refused.status_code in (303, 403) and len(subscribers(sqlite_engine)) == 2
    with TestClient(app, base_url="https://status.acme.test") as admin:
        csrf = _sign_in(admin, "ana")
        assert "Remove" in admin.get("/ui/subscribers").text
        removed = admin.post(f"/ui/subscribers/{first}/remove", data={"csrf_token": csrf})
        assert removed.status_code == 200 and f"Subscriber #{first} removed." in removed.text
    assert [r.kind for r in subscribers(sqlite_engine)] == ["webhook"]
    with Session(sqlite_engine) as s:
        audit = s.scalars(select(AuditRow).where(AuditRow.action == "subscriber.remove")).one()
    assert (audit.actor, audit.target) == ("ana", f"subscriber:{first}")


def test_the_api(sqlite_engine: Engine) -> None:
    runtime = _runtime(sqlite_engine)
    kept = _subscribe(runtime, "email", EMAIL)
    with runtime.sessions.begin() as s:
        viewer = create_token(s, "vera", Role.VIEWER, START)
        admin = create_token(s, "ana", Role.ADMIN, START)
    with TestClient(create_app(runtime, run_pipeline=False)) as http:
        as_viewer = {"Authorization": f"Bearer {viewer}"}
        as_admin = {"Authorization": f"Bearer {admin}"}
        assert http.get("/api/v1/subscribers").status_code == 401
        [listed] = http.get("/api/v1/subscribers", headers=as_viewer).json()
        assert (listed["address"], listed["status"], listed["services"], listed["sent"]) == (
            "j***@e***.com", "active", [], 0)
        assert EMAIL not in str(listed)
        assert http.delete(f"/api/v1/subscribers/{kept}", headers=as_viewer).status_code == 403
        assert http.delete("/api/v1/subscribers/999", headers=as_admin).status_code == 404
        assert http.delete(f"/api/v1/subscribers/{kept}", headers=as_admin).status_code == 204
        assert http.get("/api/v1/subscribers", headers=as_viewer).json() == []


def test_the_cli(sqlite_engine: Engine, tmp_path: Path) -> None:
    runtime = _runtime(sqlite_engine)
    first = _subscribe(runtime, "email", EMAIL)
    _subscribe(runtime, "webhook", HOOK)
    (tmp_path / "opsbook.yaml").write_text(config(25, USERS))
    env = {**os.environ, "OPSBOOK_CONFIG": str(tmp_path / "opsbook.yaml"),
           "OPSBOOK_DATABASE_URL": str(sqlite_engine.url), "OPSBOOK_USER": "ana", "COLUMNS": "80",
           "NO_COLOR": "1"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([OPSBOOK, "subscribers", *args], env=env, capture_output=True, text=True,
                              timeout=60, check=False)

    listed = cli("list")
    assert listed.returncode == 0, listed.stderr
    assert max(len(line) for line in listed.stdout.splitlines()) <= 80
    assert "j***@e***.com" in listed.stdout and EMAIL not in listed.stdout and "0/0" in listed.stdout
    assert "2026-03-02 10:00 CET" in listed.stdout
    missing = cli("remove", "999")
    assert missing.returncode == 1 and "no subscriber 999" in missing.stdout + missing.stderr
    assert cli("remove", str(first)).returncode == 0
    assert [r.kind for r in subscribers(sqlite_engine)] == ["webhook"]


def test_the_maintenance_calendar(sqlite_engine: Engine) -> None:
    runtime = _runtime(sqlite_engine)
    silences.add_maintenance(runtime, SYSTEM, ["web"], starts_at=START + timedelta(days=2),
                             duration=timedelta(hours=1), title="CDN switch")
    silences.add_maintenance(runtime, SYSTEM, ["billing-db"], starts_at=START + timedelta(days=1),
                             duration=timedelta(hours=1), title="Ledger vacuum")
    with TestClient(create_app(runtime, run_pipeline=False)) as http:
        first = http.get("/status/maintenance.ics")
        again = http.get("/status/maintenance.ics")
    assert first.status_code == 200 and first.headers["content-type"].startswith("text/calendar")
    cal = Calendar.from_ical(first.content)
    events = cal.walk("VEVENT")
    summaries = [str(e["SUMMARY"]) for e in events]
    assert "Maintenance: CDN switch" in summaries and "Maintenance: Weekly database care" in summaries
    assert "Ledger vacuum" not in first.text and "billing-db" not in first.text  # internal only
    assert [str(z["TZID"]) for z in cal.walk("VTIMEZONE")] == ["Europe/Berlin"]
    sunday = next(e for e in events if "Weekly" in str(e["SUMMARY"]))
    assert sunday.decoded("dtstart").isoformat() == "2026-03-08T02:00:00+01:00"
    assert str(sunday["UID"]) == "maintenance-sunday-db-20260308T010000Z@status.acme.test"
    uids = lambda body: sorted(str(e["UID"]) for e in Calendar.from_ical(body).walk("VEVENT"))  # noqa: E731
    assert uids(first.content) == uids(again.content)
