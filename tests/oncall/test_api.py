"""The /api/v1/oncall routes of the app: roles, audit, events, overrides, handoffs, shifts, and the
iCalendar feeds (errors answered by the app's handler)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from icalendar import Calendar
from sqlalchemy import Engine, select

from opsbook.auth.models import AuditRow
from opsbook.auth.roles import Role
from opsbook.auth.tokens import create_token
from opsbook.clock import FakeClock
from opsbook.config.loader import parse_config
from opsbook.db.engine import make_sessionmaker
from opsbook.events import Event, Topic
from opsbook.runtime import Runtime
from opsbook.web.app import create_app
from tests.oncall.conftest import TEAM_YAML

NOW = datetime(2026, 1, 14, 11, 0, tzinfo=UTC)  # Wednesday 12:00 in Berlin: ben's week


@dataclass
class Api:
    client: TestClient
    viewer: dict[str, str]
    responder: dict[str, str]
    viewer_token: str
    engine: Engine
    clock: FakeClock
    events: list[Event]


@pytest.fixture
def api(sqlite_engine: Engine) -> Iterator[Api]:
    clock = FakeClock(NOW)
    runtime = Runtime(loaded=parse_config(TEAM_YAML, "opsbook.yaml", env={}), engine=sqlite_engine,
                      sessions=make_sessionmaker(sqlite_engine), clock=clock)
    with runtime.sessions.begin() as s:
        viewer = create_token(s, "wall", Role.VIEWER, NOW)
        responder = create_token(s, "ben", Role.RESPONDER, NOW)
    events: list[Event] = []
    unsubscribe = runtime.bus.subscribe(Topic.ONCALL, events.append)
    with TestClient(create_app(runtime, run_pipeline=False)) as client:
        yield Api(client, {"Authorization": f"Bearer {viewer}"}, {"Authorization": f"Bearer {responder}"},
                  viewer, sqlite_engine, clock, events)
    unsubscribe()


def test_now_and_shifts(api: Api) -> None:
    assert api.client.get("/api/v1/oncall/now").status_code == 401
    res = api.client.get("/api/v1/oncall/now", headers=api.viewer)
    assert res.status_code == 200
    by = {n["schedule"]: n for n in res.json()}
    assert by["primary"]["user"] == "ben"
    assert by["primary"]["current"]["start"] == "2026-01-12T08:00:00Z"
    assert by["primary"]["next"]["user"] == "chen"
    assert by["business"]["user"] == "lead"
    res = api.client.get("/api/v1/oncall/now", params={"schedule": "primary", "at": "2026-01-20T12:00:00Z"},
                         headers=api.viewer)
    assert [n["user"] for n in res.json()] == ["chen"]
    res = api.client.get("/api/v1/oncall/schedules/primary/shifts",
                         params={"start": "2026-01-12T08:00:00Z", "end": "2026-01-26T08:00:00Z"},
                         headers=api.viewer)
    assert [(s["user"], s["start"], s["end"]) for s in res.json()] == [
        ("ben", "2026-01-12T08:00:00Z", "2026-01-19T08:00:00Z"),
        ("chen", "2026-01-19T08:00:00Z", "2026-01-26T08:00:00Z"),
    ]
    res = api.client.get("/api/v1/oncall/schedules/nights/shifts", headers=api.viewer)
    assert res.status_code == 404 and "no schedule 'nights'" in res.json()["detail"]
    res = api.client.get("/api/v1/oncall/schedules/primary/shifts", headers=api.viewer,
                         params={"start": "2026-01-12T08:00:00Z", "end": "2026-01-12T08:00:00Z"})
    assert res.status_code == 400 and res.json()["detail"] == "end must be after start"
    res = api.client.get("/api/v1/oncall/users/lead/shifts", headers=api.viewer,
                         params={"end": "2026-01-16T00:00:00Z"})
    assert [(s["schedule"], s["start"]) for s in res.json()] == [
        ("business", "2026-01-14T11:00:00Z"), ("business", "2026-01-15T08:00:00Z")]
    layers = api.client.get("/api/v1/oncall/schedules", headers=api.viewer).json()[0]["layers"]
    assert layers == [{"name": "weekly", "users": ["ana", "ben", "chen"], "turn": "1w",
                       "handoff": "monday 09:00", "start": "2026-01-05", "end": None, "restricted": False}]
    gaps = api.client.get("/api/v1/oncall/gaps", params={"days": 2, "schedule": "business"},
                          headers=api.viewer)
    assert gaps.json()[0] == {"schedule": "business", "start": "2026-01-14T17:00:00Z",
                              "end": "2026-01-15T08:00:00Z"}


def test_overrides_need_a_responder_and_are_audited(api: Api) -> None:
    body = {"schedule": "primary", "user": "chen", "covers": "ben", "reason": "dentist",
            "start": "2026-01-16T17:00:00Z", "end": "2026-01-19T08:00:00Z"}
    assert api.client.post("/api/v1/oncall/overrides", json=body, headers=api.viewer).status_code == 403
    res = api.client.post("/api/v1/oncall/overrides", json=body, headers=api.responder)
    assert res.status_code == 201, res.text
    oid = res.json()["id"]
    assert res.json()["created_by"] == "token:ben"
    now = api.client.get("/api/v1/oncall/now", params={"schedule": "primary", "at": "2026-01-17T12:00:00Z"},
                         headers=api.viewer).json()[0]
    assert now["user"] == "chen" and now["current"]["override"] is True
    listed = api.client.get("/api/v1/oncall/overrides", headers=api.viewer).json()
    assert [o["id"] for o in listed] == [oid]
    bad = api.client.post("/api/v1/oncall/overrides", json={**body, "user": "dan"}, headers=api.responder)
    assert bad.status_code == 400 and "no user 'dan'" in bad.json()["detail"]
    naive = api.client.post("/api/v1/oncall/overrides", json={**body, "start": "2026-01-16 17:00"},
                            headers=api.responder)  # no offset: the schedule's wall clock (Berlin)
    assert naive.status_code == 201 and naive.json()["start"].startswith("2026-01-16T16:00:00"), naive.text
    bad = api.client.post("/api/v1/oncall/overrides", json={**body, "start": "friday"}, headers=api.responder)
    assert bad.status_code == 400 and "'friday' is not a time; use e.g. now, +2h" in bad.json()["detail"]
    assert api.client.delete(f"/api/v1/oncall/overrides/{oid}", headers=api.viewer).status_code == 403
    assert api.client.delete(f"/api/v1/oncall/overrides/{oid}", headers=api.responder).status_code == 200
    assert api.client.delete(f"/api/v1/oncall/overrides/{oid}", headers=api.responder).status_code == 404
    with make_sessionmaker(api.engine)() as s:
        assert [(a.action, a.actor) for a in s.scalars(select(AuditRow).order_by(AuditRow.id))] == [
            ("oncall.override.add", "token:ben"), ("oncall.override.add", "token:ben"),
            ("oncall.override.remove", "token:ben")]
    assert [getattr(e, "action", "") for e in api.events] == ["override added", "override added",
                                                             "override removed"]


async def test_handoff_notes_reach_the_next_shift(api: Api) -> None:
    body = {"schedule": "primary", "note": "db1 disk at 80%, ticket OPS-12"}
    assert api.client.post("/api/v1/oncall/handoffs", json=body, headers=api.viewer).status_code == 403
    res = api.client.post("/api/v1/oncall/handoffs", json=body, headers=api.responder)
    assert res.status_code == 201 and res.json()["author"] == "token:ben"
    assert [getattr(e, "action", "") for e in api.events] == ["handoff note"]
    current = api.client.get("/api/v1/oncall/schedules/primary/handoff", headers=api.viewer).json()
    assert current["user"] == "ben" and current["notes"] == []  # written during ben's shift: for the next one
    await api.clock.advance_to(datetime(2026, 1, 19, 8, 5, tzinfo=UTC))
    current = api.client.get("/api/v1/oncall/schedules/primary/handoff", headers=api.viewer).json()
    assert current["user"] == "chen" and current["previous"]["user"] == "ben"
    assert [n["note"] for n in current["notes"]] == ["db1 disk at 80%, ticket OPS-12"]
    assert [n["note"] for n in api.client.get("/api/v1/oncall/handoffs", headers=api.viewer).json()] == [
        body["note"]]


def test_ical_feeds(api: Api) -> None:
    assert api.client.get("/api/v1/oncall/schedules/primary.ics").status_code == 401
    assert api.client.get("/api/v1/oncall/schedules/primary.ics", params={"token": "nope"}).status_code == 401
    res = api.client.get("/api/v1/oncall/schedules/primary.ics", params={"token": api.viewer_token})
    assert res.status_code == 200
    assert res.headers["content-type"].startswith("text/calendar")
    events = Calendar.from_ical(res.content).walk("VEVENT")
    spans = sorted((e.decoded("dtstart"), str(e["summary"])) for e in events)
    assert spans[0] == (datetime(2026, 1, 5, 8, tzinfo=UTC), "On call: Ana Ruiz (primary)")
    assert spans[1] == (datetime(2026, 1, 12, 8, tzinfo=UTC), "On call: Ben Okafor (primary)")
    res = api.client.get("/api/v1/oncall/users/ben.ics", headers=api.viewer)
    assert res.status_code == 200
    mine = Calendar.from_ical(res.content).walk("VEVENT")
    assert mine and all("Ben Okafor" in str(e["summary"]) for e in mine)
    assert api.client.get("/api/v1/oncall/users/nobody.ics", headers=api.viewer).status_code == 404
