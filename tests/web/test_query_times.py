"""GET parameters that take a time read it like the CLI does (opsbook.timefmt): `now`, `-1h`, ISO with an
offset, and a wall-clock time without one in the team's zone (a schedule's own zone for its shifts); what
none of those reads is a 422 naming the parameter. Answers stay ISO UTC. On a real server, both stores."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine

from opsbook.auth.roles import Role
from opsbook.auth.tokens import create_token
from opsbook.checks.result import CheckResult, StoredResult
from opsbook.checks.store import write_batch
from opsbook.clock import FakeClock
from opsbook.web.app import create_app
from tests.support import make_runtime, serving

NOW = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)  # 15:00 in Berlin (CET), 10:00 in New York (EDT since 8 March)
CONFIG = """
timezone: Europe/Berlin
users: [{name: ana}, {name: ben}]
schedules:
  - name: us
    timezone: America/New_York
    layers: [{name: daily, users: [ana, ben], turn: 1d, handoff: "09:00", start: 2026-03-01}]
services:
  - name: api
    checks:
      - {name: health, kind: http, url: "http://127.0.0.1:9/health"}
"""


@pytest.fixture
async def http(engine: Engine) -> AsyncIterator[httpx.AsyncClient]:
    runtime = make_runtime(engine, FakeClock(NOW), CONFIG)
    with runtime.sessions.begin() as session:
        token = create_token(session, "wall", Role.VIEWER, NOW)
        write_batch(session, [
            StoredResult("api/health", NOW - timedelta(minutes=90), CheckResult.down("HTTP 500")),
            StoredResult("api/health", NOW - timedelta(minutes=30), CheckResult.up(80.0)),
        ])
    async with (
        serving(create_app(runtime, run_pipeline=False)) as base,
        httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}) as client,
    ):
        yield client


def instant(text: str) -> datetime:
    """An ISO UTC time from an answer (it must carry its offset, and the offset must be UTC)."""
    parsed = datetime.fromisoformat(text)
    assert parsed.utcoffset() == timedelta(0), text
    return parsed


async def test_a_time_without_an_offset_is_the_teams_wall_clock(http: httpx.AsyncClient) -> None:
    answer = await http.get("/api/v1/checks/api/health/uptime",
                            params={"start": "2026-03-10 13:00", "end": "2026-03-10T15:00"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert instant(body["start"]) == datetime(2026, 3, 10, 12, 0, tzinfo=UTC)  # 13:00 CET
    assert instant(body["end"]) == NOW
    summer = await http.get("/api/v1/oncall/now", params={"at": "2026-07-01 09:00"})
    assert summer.status_code == 200, summer.text
    assert instant(summer.json()[0]["at"]) == datetime(2026, 7, 1, 7, 0, tzinfo=UTC)  # 09:00 CEST


async def test_now_and_relative_times(http: httpx.AsyncClient) -> None:
    body = (await http.get("/api/v1/checks/api/health/uptime", params={"start": "-1h", "end": "now"})).json()
    assert (instant(body["start"]), instant(body["end"])) == (NOW - timedelta(hours=1), NOW)
    results = (await http.get("/api/v1/checks/api/health/results", params={"start": "-1h"})).json()
    assert [r["status"] for r in results] == ["up"]  # the failure 90 minutes ago is outside the hour
    both = (await http.get("/api/v1/checks/api/health/results", params={"start": "-2h", "end": "+1h"})).json()
    assert sorted(r["status"] for r in both) == ["down", "up"]
    rollups = await http.get("/api/v1/checks/api/health/rollups", params={"start": "yesterday 00:00"})
    assert rollups.status_code == 200, rollups.text


async def test_a_schedules_shifts_read_times_on_the_schedules_clock(http: httpx.AsyncClient) -> None:
    """08:00-10:00 in New York straddles the 09:00 handoff (two shifts); read in Berlin it would not."""
    answer = await http.get("/api/v1/oncall/schedules/us/shifts",
                            params={"start": "2026-03-10 08:00", "end": "2026-03-10 10:00"})
    assert answer.status_code == 200, answer.text
    shifts = answer.json()
    assert len(shifts) == 2, shifts
    assert instant(shifts[1]["start"]) == datetime(2026, 3, 10, 13, 0, tzinfo=UTC)  # 09:00 EDT
    mine = await http.get("/api/v1/oncall/users/ana/shifts", params={"start": "now", "end": "+2d"})
    assert mine.status_code == 200 and mine.json(), mine.text


@pytest.mark.parametrize(("path", "name"), [
    ("/api/v1/checks/api/health/results", "start"),
    ("/api/v1/checks/api/health/rollups", "end"),
    ("/api/v1/checks/api/health/uptime", "start"),
    ("/api/v1/oncall/now", "at"),
    ("/api/v1/oncall/schedules/us/shifts", "end"),
    ("/api/v1/oncall/users/ana/shifts", "start"),
])
async def test_garbage_is_a_422_naming_the_parameter(http: httpx.AsyncClient, path: str, name: str) -> None:
    answer = await http.get(path, params={name: "half past nine-ish"})
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert f"query parameter '{name}'" in detail and "'half past nine-ish' is not a time" in detail
    assert "2026-03-09 14:00" in detail  # the forms it does take


async def test_the_schema_says_times_are_text_a_person_types(http: httpx.AsyncClient) -> None:
    schema = (await http.get("/openapi.json")).json()
    params = schema["paths"]["/api/v1/oncall/now"]["get"]["parameters"]
    at = next(p for p in params if p["name"] == "at")
    assert at["schema"]["anyOf"][0] == {"type": "string", "maxLength": 64}  # no date-time: "now" passes
    assert "+2h" in at["description"] and "team's time zone" in at["description"]
