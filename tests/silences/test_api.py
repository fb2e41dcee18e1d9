"""The /api/v1/silences and /api/v1/maintenance routes of the app: roles, validation, audit rows, events,
states over time (errors answered by the app's handler)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from opsbook.auth.models import AuditRow
from opsbook.auth.roles import Role
from opsbook.auth.tokens import create_token
from opsbook.clock import FakeClock
from opsbook.events import Event, Topic
from opsbook.runtime import Runtime
from opsbook.web.app import create_app
from tests.silences.conftest import NOW, advance


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime, run_pipeline=False)) as test_client:
        yield test_client


@pytest.fixture
def mutes(runtime: Runtime) -> Iterator[list[Event]]:
    seen: list[Event] = []
    unsubscribe = runtime.bus.subscribe(Topic.MUTES, seen.append)
    yield seen
    unsubscribe()


@pytest.fixture
def tokens(runtime: Runtime) -> dict[str, dict[str, str]]:
    with runtime.sessions.begin() as session:
        made = {role.value: create_token(session, role.value, role, NOW) for role in Role}
    return {name: {"Authorization": f"Bearer {token}"} for name, token in made.items()}


def audit_rows(runtime: Runtime) -> list[tuple[str, str, str]]:
    with runtime.sessions() as session:
        rows = session.scalars(select(AuditRow).order_by(AuditRow.id))
        return [(r.actor, r.action, r.target) for r in rows]


def test_create_list_and_expire_a_silence(client: TestClient, tokens: dict[str, dict[str, str]],
                                          runtime: Runtime) -> None:
    body = {"matchers": ["service=api", {"name": "severity", "op": "=~", "value": "P[23]"}],
            "duration": "2h", "comment": "deploy 1.4"}
    made = client.post("/api/v1/silences", json=body, headers=tokens["responder"])
    assert made.status_code == 201, made.text
    silence = made.json()
    assert silence["state"] == "active" and silence["created_by"] == "token:responder"
    assert silence["matchers"] == [{"name": "service", "op": "=", "value": "api"},
                                   {"name": "severity", "op": "=~", "value": "P[23]"}]
    assert silence["ends_at"].startswith("2024-01-06T14:00:00")
    later = client.post("/api/v1/silences", headers=tokens["admin"], json={
        "matchers": ["service=db"], "starts_at": "2024-01-07T00:00:00Z",
        "ends_at": "2024-01-07T06:00:00+00:00", "comment": "night work"})
    assert later.status_code == 201 and later.json()["state"] == "pending"

    listed = client.get("/api/v1/silences", params={"state": "active"}, headers=tokens["viewer"])
    assert [s["id"] for s in listed.json()] == [silence["id"]]
    assert [s["id"] for s in client.get("/api/v1/silences", params={"state": "pending"},
                                        headers=tokens["viewer"]).json()] == [later.json()["id"]]
    assert client.get(f"/api/v1/silences/{silence['id']}", headers=tokens["viewer"]).json()["comment"] == (
        "deploy 1.4")

    assert isinstance(runtime.clock, FakeClock)
    advance(runtime.clock, timedelta(minutes=30))
    gone = client.delete(f"/api/v1/silences/{silence['id']}", headers=tokens["responder"])
    assert gone.status_code == 200 and gone.json()["state"] == "expired"
    assert gone.json()["expired_at"].startswith("2024-01-06T12:30:00")
    again = client.post(f"/api/v1/silences/{silence['id']}/expire", headers=tokens["responder"])
    assert again.status_code == 409 and "already expired" in again.json()["detail"]
    assert client.post(f"/api/v1/silences/{later.json()['id']}/expire",
                       headers=tokens["responder"]).json()["state"] == "expired"
    assert client.post("/api/v1/silences/999/expire", headers=tokens["responder"]).status_code == 404
    expired = client.get("/api/v1/silences", params={"state": "expired"}, headers=tokens["viewer"]).json()
    assert len(expired) == 2
    assert audit_rows(runtime) == [
        ("token:responder", "silence.create", f"silence:{silence['id']}"),
        ("token:admin", "silence.create", f"silence:{later.json()['id']}"),
        ("token:responder", "silence.expire", f"silence:{silence['id']}"),
        ("token:responder", "silence.expire", f"silence:{later.json()['id']}"),
    ]


def test_roles(client: TestClient, tokens: dict[str, dict[str, str]], runtime: Runtime,
               mutes: list[Event]) -> None:
    body = {"matchers": ["service=api"], "duration": "1h", "comment": "x"}
    refused = client.post("/api/v1/silences", json=body, headers=tokens["viewer"])
    assert refused.status_code == 403 and "needs the responder role" in refused.json()["detail"]
    assert client.post("/api/v1/silences", json=body).status_code == 401
    assert client.get("/api/v1/silences").status_code == 401
    assert client.get("/api/v1/silences", headers={"Authorization": "Bearer nope"}).status_code == 401
    made = client.post("/api/v1/silences", json=body, headers=tokens["responder"]).json()
    assert client.delete(f"/api/v1/silences/{made['id']}", headers=tokens["viewer"]).status_code == 403
    maintenance = {"services": ["db"], "title": "x", "starts_at": "2024-01-08T00:00:00Z", "duration": "1h"}
    assert client.post("/api/v1/maintenance", json=maintenance, headers=tokens["viewer"]).status_code == 403
    assert [a[1] for a in audit_rows(runtime)] == ["silence.create"]
    assert [(e.topic, getattr(e, "action", "")) for e in mutes] == [(Topic.MUTES, "silence added")]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"matchers": ['severity=~"P[23"'], "duration": "1h", "comment": "x"}, "invalid regular expression"),
        ({"matchers": [{"name": "check", "op": "=~", "value": "(a"}], "duration": "1h", "comment": "x"},
         "invalid regular expression"),
        ({"matchers": ["service=api"], "duration": "1h", "comment": "   "}, "comment"),
        ({"matchers": ["service=api"], "comment": "x"}, "exactly one of ends_at and duration"),
        ({"matchers": ["service=api"], "comment": "x", "starts_at": "2024-01-06T15:00:00Z",
          "ends_at": "2024-01-06T14:00:00Z"}, "after it starts"),
        ({"matchers": ["service=api"], "comment": "x", "ends_at": "2024-01-06T11:00:00Z"}, "in the future"),
        ({"matchers": ["team!=db"], "duration": "1h", "comment": "x"}, "every alert"),
        ({"matchers": ["nonsense"], "duration": "1h", "comment": "x"}, "is not a matcher"),
    ],
)
def test_bad_silences_get_400(client: TestClient, tokens: dict[str, dict[str, str]], runtime: Runtime,
                              body: dict[str, object], message: str) -> None:
    answer = client.post("/api/v1/silences", json=body, headers=tokens["responder"])
    assert answer.status_code == 400, answer.text
    assert message in answer.json()["detail"]
    assert audit_rows(runtime) == []


def test_times_are_read_like_everywhere_else(client: TestClient, tokens: dict[str, dict[str, str]]) -> None:
    """One parser (opsbook.timefmt): a time without an offset is the team's wall clock (Europe/Berlin here),
    `now`/`+2h`/`90 minutes` work, and what it cannot read is a 400 naming the accepted forms; the answer is
    UTC."""
    body = {"matchers": ["service=api"], "ends_at": "2024-07-06T14:00:00", "comment": "x"}
    made = client.post("/api/v1/silences", json=body, headers=tokens["responder"])
    assert made.status_code == 201, made.text
    assert made.json()["ends_at"].startswith("2024-07-06T12:00:00")  # 14:00 CEST is 12:00 UTC
    body = {"matchers": ["service=api"], "starts_at": "now", "duration": "90 minutes", "comment": "x"}
    made = client.post("/api/v1/silences", json=body, headers=tokens["responder"])
    assert made.status_code == 201, made.text
    body = {"matchers": ["service=api"], "ends_at": "whenever", "comment": "x"}
    refused = client.post("/api/v1/silences", json=body, headers=tokens["responder"])
    assert refused.status_code == 400 and "'whenever' is not a time; use e.g. now, +2h" in refused.text
    body = {"matchers": ["service=api"], "duration": "a while", "comment": "x"}
    refused = client.post("/api/v1/silences", json=body, headers=tokens["responder"])
    assert refused.status_code == 400 and "is not a length of time" in refused.text


def test_maintenance_endpoints(client: TestClient, tokens: dict[str, dict[str, str]],
                               runtime: Runtime) -> None:
    made = client.post("/api/v1/maintenance", headers=tokens["responder"], json={
        "services": ["api"], "title": "API database move", "description": "Read-only for 20 minutes",
        "starts_at": "2024-01-06T20:00:00Z", "duration": "1h"})
    assert made.status_code == 201, made.text
    window = made.json()
    assert window["ends_at"].startswith("2024-01-06T21:00:00") and window["created_by"] == "token:responder"
    unknown = client.post("/api/v1/maintenance", headers=tokens["responder"], json={
        "services": ["nope"], "title": "x", "starts_at": "2024-01-06T20:00:00Z", "duration": "1h"})
    assert unknown.status_code == 400 and "unknown service 'nope'" in unknown.json()["detail"]

    listed = client.get("/api/v1/maintenance", headers=tokens["viewer"]).json()
    assert [w["id"] for w in listed["one_off"]] == [window["id"]]
    assert listed["recurring"] == [{
        "name": "sunday-db", "title": "Weekly database maintenance", "description": "Vacuum and reindex",
        "cron": "0 2 * * 0", "duration": "2h", "timezone": "UTC", "services": ["db"], "match": {}}]

    upcoming = client.get("/api/v1/maintenance/upcoming", params={"days": 8}, headers=tokens["viewer"]).json()
    assert [(u["ref"], u["starts_at"][:16], u["source"]) for u in upcoming] == [
        (f"maintenance:#{window['id']}", "2024-01-06T20:00", "one-off"),
        ("maintenance:sunday-db", "2024-01-07T02:00", "recurring"),
        ("maintenance:sunday-db", "2024-01-14T02:00", "recurring"),
    ]
    assert client.get(f"/api/v1/maintenance/{window['id']}", headers=tokens["viewer"]).json()["title"] == (
        "API database move")
    cancelled = client.delete(f"/api/v1/maintenance/{window['id']}", headers=tokens["responder"])
    assert cancelled.status_code == 200 and cancelled.json()["cancelled_by"] == "token:responder"
    again = client.delete(f"/api/v1/maintenance/{window['id']}", headers=tokens["responder"])
    assert again.status_code == 409
    assert client.get("/api/v1/maintenance", headers=tokens["viewer"]).json()["one_off"] == []
    assert [a[1] for a in audit_rows(runtime)] == ["maintenance.create", "maintenance.cancel"]
