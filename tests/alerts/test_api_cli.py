"""`GET /api/v1/alerts` and `opsbook alert list` over alerts made by the real engine."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from opsbook.alerts.api import router
from opsbook.alerts.external import ExternalEvent, apply_external
from opsbook.alerts.service import AlertEngine
from opsbook.alerts.state import ExternalAction
from opsbook.auth.roles import Role
from opsbook.auth.tokens import create_token
from opsbook.checks.result import CheckResult, Status, StoredResult
from opsbook.checks.store import write_batch
from opsbook.cli.main import app as main_app
from opsbook.clock import FakeClock
from opsbook.db.engine import make_engine, make_sessionmaker
from opsbook.db.migrate import upgrade
from opsbook.rules.severity import Severity
from opsbook.runtime import Runtime
from tests.alerts.conftest import CONFIG, load

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def make_alerts(engine: Engine) -> None:
    """api/health fires (3 failures), api/flappy's `slow` fires and resolves, a PagerDuty event fires."""
    sessions = make_sessionmaker(engine)
    alerts = AlertEngine(load().config)
    t = NOW
    for status, latency in [("down", 300.0), ("down", 300.0), ("down", 50.0)]:
        t += timedelta(seconds=30)
        with sessions.begin() as session:
            write_batch(session, [StoredResult("api/health", t, CheckResult(Status(status), latency)),
                                  StoredResult("api/flappy", t, CheckResult(Status.UP, latency))])
            alerts.process(session, ["api/health", "api/flappy"], t)
    with sessions.begin() as session:
        alerts.process_due(session, t + timedelta(minutes=10))
        disk = ExternalEvent("pagerduty", "disk-1", ExternalAction.TRIGGER, "db", Severity.P1,
                             "Disk [full] on db-1", {"x": 1})
        apply_external(session, disk, t)


@pytest.fixture
def runtime(sqlite_engine: Engine) -> Iterator[Runtime]:
    make_alerts(sqlite_engine)
    yield Runtime(loaded=load(), engine=sqlite_engine, sessions=make_sessionmaker(sqlite_engine),
                  clock=FakeClock(NOW + timedelta(minutes=20)))


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    app = FastAPI()
    app.state.runtime = runtime
    app.include_router(router)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def viewer(runtime: Runtime) -> dict[str, str]:
    with runtime.sessions.begin() as session:
        token = create_token(session, "v", Role.VIEWER, NOW)
    return {"Authorization": f"Bearer {token}"}


def test_needs_a_token(client: TestClient) -> None:
    assert client.get("/api/v1/alerts").status_code == 401
    assert client.get("/api/v1/alerts", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_list_and_filter(client: TestClient, viewer: dict[str, str]) -> None:
    got = client.get("/api/v1/alerts", headers=viewer).json()
    assert [(a["source"], a["service"], a["rule"], a["state"]) for a in got] == [
        ("pagerduty", "db", None, "firing"),
        ("rule", "api", "failures", "firing"),
        ("rule", "api", "slow", "resolved"),
    ]
    firing = client.get("/api/v1/alerts", params={"state": "firing", "service": "api"}, headers=viewer).json()
    assert [(a["check_id"], a["rule"], a["severity"], a["value"]) for a in firing] == [
        ("api/health", "failures", "P2", 3.0)
    ]
    assert firing[0]["summary"] == "api/health failed 3 times in a row"
    p1 = client.get("/api/v1/alerts", params={"severity": "p1"}, headers=viewer).json()
    assert [a["dedup_key"] for a in p1] == ["disk-1"]
    assert client.get("/api/v1/alerts", params={"severity": "P9"}, headers=viewer).status_code == 400
    assert client.get("/api/v1/alerts", params={"state": "bogus"}, headers=viewer).status_code == 422
    page = client.get("/api/v1/alerts", params={"limit": 1, "before_id": got[0]["id"]}, headers=viewer).json()
    assert [a["id"] for a in page] == [got[1]["id"]]


def test_detail_has_the_history(client: TestClient, viewer: dict[str, str]) -> None:
    slow = client.get("/api/v1/alerts", params={"state": "resolved"}, headers=viewer).json()[0]
    detail = client.get(f"/api/v1/alerts/{slow['id']}", headers=viewer).json()
    assert [(e["from_state"], e["to_state"]) for e in detail["events"]] == [
        ("inactive", "firing"), ("firing", "resolved")
    ]
    assert client.get("/api/v1/alerts/9999", headers=viewer).status_code == 404


def test_cli_alert_list(tmp_path: Path) -> None:
    config = tmp_path / "opsbook.yaml"
    config.write_text(CONFIG)
    url = f"sqlite:///{tmp_path}/cli.db"
    engine = make_engine(url)
    upgrade(engine)
    make_alerts(engine)
    engine.dispose()
    env = {"OPSBOOK_CONFIG": str(config), "OPSBOOK_DATABASE_URL": url, "COLUMNS": "250"}
    runner = CliRunner()
    out = runner.invoke(main_app, ["alert", "list", "--state", "firing"], env=env)
    assert out.exit_code == 0, out.output
    assert "api/health · rule failures" in out.output and "Disk [full] on db-1" in out.output
    assert "resolved" not in out.output
    everything = runner.invoke(main_app, ["alert", "list"], env=env)
    assert "resolved" in everything.output and "slow" in everything.output
    none = runner.invoke(main_app, ["alert", "list", "--state", "pending"], env=env)
    assert none.exit_code == 0 and "no alerts in state pending" in none.output
    bad = runner.invoke(main_app, ["alert", "list", "--severity", "P9"], env=env)
    assert bad.exit_code == 2
