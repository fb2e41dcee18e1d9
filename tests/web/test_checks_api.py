"""The checks API: token auth and roles, results, rollups, uptime, metrics; no secret in any answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from opsbook.auth.roles import Role
from opsbook.auth.tokens import create_token
from opsbook.checks.result import CheckResult, StoredResult
from opsbook.checks.rollup import roll_up
from opsbook.checks.store import write_batch
from opsbook.clock import FakeClock
from opsbook.web.app import create_app
from tests.support import make_runtime

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
CONFIG = """
services:
  - name: api
    public: true
    checks:
      - name: health
        kind: http
        url: http://127.0.0.1:9/health
  - name: db
    checks:
      - name: select-1
        kind: postgres
        dsn: postgresql://app:${DB_PASSWORD}@127.0.0.1:5432/app
"""
PASSWORD = "hunter2-very-secret"


@pytest.fixture
async def client(sqlite_engine: Engine) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    clock = FakeClock(NOW)
    runtime = make_runtime(sqlite_engine, clock, CONFIG, {"DB_PASSWORD": PASSWORD})
    with Session(sqlite_engine) as s, s.begin():
        tokens = {role.value: create_token(s, role.value, role, NOW) for role in Role}
        write_batch(
            s,
            [
                StoredResult("api/health", NOW - timedelta(hours=2, minutes=1), CheckResult.up(120.0)),
                StoredResult("api/health", NOW - timedelta(hours=2), CheckResult.down("HTTP 500")),
                StoredResult("api/health", NOW - timedelta(hours=1), CheckResult.up(80.0)),
                StoredResult(
                    "db/select-1",
                    NOW - timedelta(minutes=5),
                    CheckResult.down(f"password authentication failed for postgresql://app:{PASSWORD}@db"),
                ),
            ],
        )
        roll_up(s, NOW)
    app = create_app(runtime, run_pipeline=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://opsbook") as http:
        yield http, tokens


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_the_api_needs_a_valid_token(client: tuple[httpx.AsyncClient, dict[str, str]]) -> None:
    http, tokens = client
    assert (await http.get("/api/v1/checks")).status_code == 401
    assert (await http.get("/api/v1/checks", headers=auth("opsb_wrong"))).status_code == 401
    assert (await http.get("/api/v1/checks", headers=auth(tokens["viewer"]))).status_code == 200
    assert (await http.get("/health")).json()["status"] == "ok"  # no token needed


async def test_checks_and_services_show_state_and_uptime(
    client: tuple[httpx.AsyncClient, dict[str, str]],
) -> None:
    http, tokens = client
    checks = {c["id"]: c for c in (await http.get("/api/v1/checks", headers=auth(tokens["viewer"]))).json()}
    assert checks["api/health"]["state"]["status"] == "up"
    assert checks["api/health"]["interval"] == "1m"
    # known since 09:59: up 1 min, down 10:00–11:00, up 11:00–12:00
    assert checks["api/health"]["uptime_24h"] == round(61 / 121 * 100, 4)
    services = {
        s["name"]: s for s in (await http.get("/api/v1/services", headers=auth(tokens["viewer"]))).json()
    }
    assert services["db"]["status"] == "down" and services["api"]["status"] == "up"
    down = (await http.get("/api/v1/checks?status=down", headers=auth(tokens["viewer"]))).json()
    assert [c["id"] for c in down] == ["db/select-1"]


async def test_results_rollups_and_uptime_over_a_range(
    client: tuple[httpx.AsyncClient, dict[str, str]],
) -> None:
    http, tokens = client
    h = auth(tokens["viewer"])
    results = (
        await http.get("/api/v1/checks/api/health/results?start=2026-03-02T09:00:00Z", headers=h)
    ).json()
    assert [r["status"] for r in results] == ["up", "down", "up"]  # newest first
    rollups = (await http.get("/api/v1/checks/api/health/rollups?resolution=1h", headers=h)).json()
    assert [(r["count"], r["failures"]) for r in rollups] == [(1, 0), (1, 1), (1, 0)]
    assert rollups[0]["latency_p95_ms"] == pytest.approx(120.0, rel=0.01)
    up = (await http.get("/api/v1/checks/api/health/uptime?period=2h", headers=h)).json()
    assert (up["down_seconds"], up["up_seconds"], up["uptime_percent"]) == (3600.0, 3600.0, 50.0)
    assert (await http.get("/api/v1/checks/api/health/uptime?period=soon", headers=h)).status_code == 400
    assert (await http.get("/api/v1/checks/api/nope/results", headers=h)).status_code == 404
    bad_range = "/api/v1/checks/api/health/results?start=2026-03-02T10:00:00Z&end=2026-03-02T09:00:00Z"
    assert (await http.get(bad_range, headers=h)).status_code == 400


async def test_no_password_appears_in_any_answer(client: tuple[httpx.AsyncClient, dict[str, str]]) -> None:
    http, tokens = client
    h = auth(tokens["admin"])
    bodies = [
        (await http.get(path, headers=h)).text
        for path in (
            "/api/v1/checks",
            "/api/v1/services",
            "/api/v1/checks/db/select-1",
            "/api/v1/checks/db/select-1/results?period=1d&start=2026-03-01T00:00:00Z",
        )
    ]
    assert all(PASSWORD not in body for body in bodies)
    assert "password authentication failed" in bodies[3]


async def test_metrics_are_prometheus_text_for_token_holders(
    client: tuple[httpx.AsyncClient, dict[str, str]],
) -> None:
    http, tokens = client
    app_pipeline = http._transport.app.state.pipeline  # type: ignore[attr-defined]
    app_pipeline.metrics.observe_result(StoredResult("api/health", NOW, CheckResult.down("x")))
    assert (await http.get("/metrics")).status_code == 401  # it names services and people
    text = (await http.get("/metrics", headers={"Authorization": f"Bearer {tokens['viewer']}"})).text
    assert 'opsbook_check_up{check="health",service="api"} 0.0' in text
    assert "opsbook_scheduler_lag_seconds_bucket" in text
    assert "# TYPE opsbook_alerts gauge" in text and "# TYPE opsbook_notifications gauge" in text
