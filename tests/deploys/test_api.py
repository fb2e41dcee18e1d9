"""The deploys' HTTP side on a real server: `POST/GET /api/v1/deploys` with roles, the DORA report, and
PagerDuty change events sent by the real `pdpyras.ChangeEventsAPISession` (202 and PagerDuty's body), which
land as a deploy record and as a marker on the timeline of an incident on the service; malformed change
events get 400 with what is wrong."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from opsbook.auth.roles import Principal, Role
from opsbook.auth.tokens import create_token
from opsbook.clock import FakeClock
from opsbook.incidents import queries as incidents
from opsbook.incidents import service as incident_service
from opsbook.runtime import Runtime
from opsbook.web.app import create_app
from tests.support import make_runtime, serving

with warnings.catch_warnings():  # pdpyras says it is deprecated in favour of `pagerduty`; it still works
    warnings.simplefilter("ignore")
    import pdpyras

NOW = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
KEY = "R0UTINGKEYAPI000000000000000000000"
CONFIG = f"""
timezone: Europe/Berlin
alerting:
  routing_keys: {{api: {KEY}}}
services:
  - name: api
    deploy: {{command: "true", environments: [staging, production]}}
  - name: web
"""


@pytest.fixture
async def api(engine: Engine) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient, dict[str, dict[str, str]]]]:
    runtime = make_runtime(engine, FakeClock(NOW), CONFIG)
    with runtime.sessions.begin() as session:
        tokens = {
            role.value: {"Authorization": f"Bearer {create_token(session, role.value, role, NOW)}"}
            for role in Role
        }
    async with (
        serving(create_app(runtime, run_pipeline=False)) as base,
        httpx.AsyncClient(base_url=base) as http,
    ):
        yield runtime, http, tokens


async def test_record_and_list_deploys_with_roles(
    api: tuple[Runtime, httpx.AsyncClient, dict[str, dict[str, str]]],
) -> None:
    _runtime, http, tokens = api
    body = {
        "service": "api",
        "version": "1.4.2",
        "commit": "9f2c1ab",
        "committed_at": "2026-03-10T11:00:00Z",
        "summary": "checkout fix",
    }
    assert (await http.post("/api/v1/deploys", json=body)).status_code == 401
    assert (await http.post("/api/v1/deploys", json=body, headers=tokens["viewer"])).status_code == 403
    made = await http.post("/api/v1/deploys", json=body, headers=tokens["responder"])
    assert made.status_code == 201, made.text
    row = made.json()
    assert (row["service"], row["env"], row["version"], row["kind"], row["status"]) == (
        "api",
        "production",
        "1.4.2",
        "change",
        "succeeded",
    )  # production: the service's last environment
    assert (
        row["actor"] == "token:responder" and row["source"] == "api" and row["started_at"] == NOW.isoformat()
    )

    staged = {**body, "environment": "staging", "status": "failed"}
    assert (await http.post("/api/v1/deploys", json=staged, headers=tokens["admin"])).status_code == 201
    wrong = [
        ({**body, "service": "nope"}, "no service 'nope'"),
        ({**body, "status": "running"}, "status: one of"),
        ({"service": "api"}, "give the version deployed or a summary"),
    ]
    for bad, message in wrong:
        answer = await http.post("/api/v1/deploys", json=bad, headers=tokens["responder"])
        assert answer.status_code == 400 and message in answer.json()["detail"], answer.text

    listed = (await http.get("/api/v1/deploys?service=api", headers=tokens["viewer"])).json()
    assert [(d["env"], d["status"]) for d in listed] == [("staging", "failed"), ("production", "succeeded")]
    only = (await http.get("/api/v1/deploys?env=production", headers=tokens["viewer"])).json()
    assert [d["id"] for d in only] == [row["id"]]
    one = (await http.get(f"/api/v1/deploys/{row['id']}", headers=tokens["viewer"])).json()
    assert one["commit"] == "9f2c1ab" and one["output"] == ""
    assert (await http.get("/api/v1/deploys/999", headers=tokens["viewer"])).status_code == 404

    report = (await http.get("/api/v1/deploys/report?since=7d", headers=tokens["viewer"])).json()
    assert report[0] == {
        "service": "api",
        "deployments": 1,
        "per_day": 1 / 7,
        "lead_time_s": 3 * 3600.0,
        "change_failure_rate": 0.0,
        "failures": 0,
        "time_to_restore_s": None,
    }
    seven_days_back_in_berlin = "/api/v1/deploys/report?since=2026-03-03 15:00"  # NOW - 7d on Berlin clocks
    assert (await http.get(seven_days_back_in_berlin, headers=tokens["viewer"])).json() == report
    garbage = await http.get("/api/v1/deploys/report?since=soon", headers=tokens["viewer"])
    assert garbage.status_code == 422 and "'since'" in garbage.json()["detail"], garbage.text


def submit(base: str, key: str, **kw: Any) -> Any:
    session = pdpyras.ChangeEventsAPISession(key)
    session.url = f"{base}/api/v1/events/pagerduty"
    return session.submit(**kw)


async def test_a_pdpyras_change_event_lands_as_a_deploy_and_a_timeline_marker(
    api: tuple[Runtime, httpx.AsyncClient, dict[str, dict[str, str]]],
) -> None:
    runtime, http, tokens = api
    base = str(http.base_url).rstrip("/")
    details = {"version": "1.4.2", "environment": "production", "deployed_by": "ana", "commit": "9f2c1ab"}
    when = (NOW - timedelta(minutes=6)).isoformat()
    await asyncio.to_thread(
        submit,
        base,
        KEY,
        summary="Deploy api 1.4.2",
        source="github-actions",
        custom_details=details,
        timestamp=when,
        links=[{"href": "https://ci.example.com/run/7", "text": "CI run"}],
    )
    raw = await http.post(
        "/api/v1/events/pagerduty/v2/change/enqueue",
        json={"routing_key": KEY, "payload": {"summary": "config flag flipped"}},
    )
    assert raw.status_code == 202
    assert raw.json() == {"status": "success", "message": "Change event processed"}

    listed = (await http.get("/api/v1/deploys?service=api", headers=tokens["viewer"])).json()
    flag, deploy = listed
    assert (deploy["version"], deploy["env"], deploy["actor"], deploy["source"]) == (
        "1.4.2",
        "production",
        "ana",
        "pagerduty",
    )
    assert deploy["commit"] == "9f2c1ab" and deploy["started_at"] == (NOW - timedelta(minutes=6)).isoformat()
    assert deploy["detail"]["links"] == [{"href": "https://ci.example.com/run/7", "text": "CI run"}]
    assert "routing_key" not in deploy["detail"] and KEY not in str(listed)
    assert (flag["version"], flag["summary"], flag["actor"]) == ("", "config flag flipped", "pagerduty")

    incident = incident_service.open_incident(
        runtime, Principal("ben", Role.RESPONDER), title="checkout errors", severity="P2", service="api"
    )
    with runtime.sessions() as session:
        marks = [i.message for i in incidents.timeline(session, incident.id) if i.kind == "deploy"]
    assert marks == [
        f"api 1.4.2 deployed by ana (production) 6 min before this incident (deploy #{deploy['id']})",
        f"api changed by pagerduty (production) under a minute before this incident (deploy #{flag['id']})",
    ]


async def test_malformed_change_events_get_400_with_what_is_wrong(
    api: tuple[Runtime, httpx.AsyncClient, dict[str, dict[str, str]]],
) -> None:
    _runtime, http, tokens = api
    url = "/api/v1/events/pagerduty/v2/change/enqueue"
    cases: list[tuple[Any, str]] = [
        (b"{not json", "the body is not JSON"),
        ([], "the body must be a JSON object"),
        ({"payload": {"summary": "x"}}, "routing_key: Field required"),
        ({"routing_key": KEY}, "payload: Field required"),
        ({"routing_key": KEY, "payload": {"summary": ""}}, "payload.summary: String should have at least 1"),
        ({"routing_key": "wrong", "payload": {"summary": "x"}}, "routing_key is not known to this opsbook"),
        (
            {"routing_key": KEY, "payload": {"summary": "x", "timestamp": "yesterday"}},
            "is not an ISO 8601 time",
        ),
        (
            {"routing_key": KEY, "payload": {"summary": "x", "custom_details": {"status": "meh"}}},
            "payload.custom_details.status: 'meh' is not succeeded, failed or rolled_back",
        ),
    ]
    for body, message in cases:
        answer = await (
            http.post(url, content=body) if isinstance(body, bytes) else http.post(url, json=body)
        )
        assert answer.status_code == 400, body
        assert (
            answer.json()["status"] == "invalid event"
            and answer.json()["message"] == "Event object is invalid"
        )
        assert any(message in e for e in answer.json()["errors"]), (body, answer.json())
    assert (await http.get("/api/v1/deploys", headers=tokens["viewer"])).json() == []
    with pytest.raises(pdpyras.PDClientError):  # the client sees the refusal as PagerDuty's would be
        await asyncio.to_thread(submit, str(http.base_url).rstrip("/"), "wrong", summary="x")
