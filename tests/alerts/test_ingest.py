"""PagerDuty Events v2 and Alertmanager webhook ingest, with the payloads from those tools' documentation."""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from opsbook.alerts.external import ExternalEvent, apply_external
from opsbook.alerts.groupcommit import GroupCommit
from opsbook.alerts.ingest import IngestFastPath, router
from opsbook.alerts.models import AlertEventRow, AlertRow
from opsbook.alerts.state import ExternalAction
from opsbook.alerts.types import AlertTransition, TransitionKind
from opsbook.auth.roles import Role
from opsbook.auth.tokens import create_token
from opsbook.clock import FakeClock
from opsbook.config.loader import parse_config
from opsbook.db.engine import make_sessionmaker
from opsbook.rules.severity import Severity
from opsbook.runtime import Runtime

ROUTING_KEY = "e93facc04764012d7bfb002500d5d1a6"

CONFIG = """\
services:
  - name: db
  - name: api
alerting:
  default_severity: P3
  routing_keys:
    db: ${PD_ROUTING_KEY}
"""

# https://developer.pagerduty.com/docs/events-api-v2/trigger-events/ (the documented example)
PD_TRIGGER: dict[str, Any] = {
    "payload": {
        "summary": "DISK at 99% on machine prod-datapipe03.example.com",
        "timestamp": "2015-07-17T08:42:58.315+0000",
        "severity": "critical",
        "source": "prod-datapipe03.example.com",
        "component": "mysql",
        "group": "prod-datapipe",
        "class": "disk",
        "custom_details": {"free space": "1%", "ping time": "1500ms", "load avg": 0.75},
    },
    "routing_key": ROUTING_KEY,
    "dedup_key": "srv01/mysql",
    "event_action": "trigger",
    "client": "Sample Monitoring Service",
    "client_url": "https://monitoring.service.com",
    "links": [{"href": "http://pagerduty.example.com", "text": "An example link."}],
    "images": [{
        "src": "https://chart.googleapis.com/chart?chs=600x400&chd=t:6,2,9,5,2,5,7,4,7,3&cht=lc&chds=0,10&chxt=x,y"
               "&chxr=1,0,10",
        "href": "https://google.com",
        "alt": "An example link with an image",
    }],
}
PD_ACK = {"routing_key": ROUTING_KEY, "dedup_key": "srv01/mysql", "event_action": "acknowledge"}
PD_RESOLVE = {"routing_key": ROUTING_KEY, "dedup_key": "srv01/mysql", "event_action": "resolve"}

# https://prometheus.io/docs/alerting/latest/configuration/#webhook_config (version 4), filled in
AM_FIRING: dict[str, Any] = {
    "version": "4",
    "groupKey": '{}/{severity="critical"}:{alertname="ProbeFailure"}',
    "truncatedAlerts": 0,
    "status": "firing",
    "receiver": "opsbook",
    "groupLabels": {"alertname": "ProbeFailure"},
    "commonLabels": {"alertname": "ProbeFailure", "job": "http_checks", "severity": "critical"},
    "commonAnnotations": {},
    "externalURL": "http://prometheus.example.org:9093",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "ProbeFailure", "instance": "https://server.example.org",
                       "job": "http_checks", "severity": "critical", "service": "api"},
            "annotations": {"description": "Instance https://server.example.org has been down for over 5m.",
                            "summary": "BlackBox Probe Failure: https://server.example.org",
                            "runbook_url": "https://runbooks.example.org/probe"},
            "startsAt": "2023-02-06T13:08:45.828Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.example.org:9090/graph?g0.expr=probe_success+%3D%3D+0&g0.tab=1",
            "fingerprint": "1a30ba71cca2921f",
        },
        {
            "status": "firing",
            "labels": {"alertname": "ProbeFailure", "instance": "https://other.example.org",
                       "job": "http_checks", "severity": "warning"},
            "annotations": {"description": "Instance https://other.example.org has been down for over 5m."},
            "startsAt": "2023-02-06T13:08:45.828Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.example.org:9090/graph",
            "fingerprint": "77aa00b1cc2921f0",
        },
    ],
}


@pytest.fixture
def runtime(engine: Engine) -> Iterator[Runtime]:
    loaded = parse_config(CONFIG, "opsbook.yaml", {"PD_ROUTING_KEY": ROUTING_KEY})
    yield Runtime(loaded=loaded, engine=engine, sessions=make_sessionmaker(engine), clock=FakeClock())


@pytest.fixture
def seen() -> list[AlertTransition]:
    return []


@pytest.fixture
def client(runtime: Runtime, seen: list[AlertTransition]) -> Iterator[TestClient]:
    app = FastAPI()
    app.state.runtime = runtime

    def hook(session: Session, transitions: Sequence[AlertTransition], now: datetime) -> None:
        assert session.in_transaction()
        seen.extend(transitions)

    app.state.alert_hooks = [hook]
    app.include_router(router)
    with TestClient(app) as test_client:
        yield test_client


def alerts(runtime: Runtime) -> list[AlertRow]:
    with runtime.sessions() as session:
        return list(session.scalars(select(AlertRow).order_by(AlertRow.id)))


def test_pagerduty_trigger_dedup_acknowledge_resolve(client: TestClient, runtime: Runtime,
                                                     seen: list[AlertTransition]) -> None:
    r = client.post("/api/v1/events/pagerduty", json=PD_TRIGGER)
    assert r.status_code == 202, r.text
    assert r.json() == {"status": "success", "message": "Event processed", "dedup_key": "srv01/mysql"}
    # the same trigger again (PagerDuty retries, or the tool re-sends): deduplicated
    again = copy.deepcopy(PD_TRIGGER)
    again["payload"]["summary"] = "DISK at 100% on machine prod-datapipe03.example.com"
    assert client.post("/api/v1/events/pagerduty", json=again).status_code == 202
    (row,) = alerts(runtime)
    assert (row.source, row.dedup_key, row.service, row.state, row.severity) == (
        "pagerduty", "srv01/mysql", "db", "firing", "P1")
    assert row.summary == "DISK at 100% on machine prod-datapipe03.example.com"
    assert row.labels == {"source": "prod-datapipe03.example.com", "component": "mysql",
                          "group": "prod-datapipe", "class": "disk"}
    assert row.payload is not None and "routing_key" not in row.payload  # the key is a secret
    assert row.payload["payload"]["custom_details"]["load avg"] == 0.75
    assert [t.kind for t in seen] == [TransitionKind.FIRED]
    assert seen[0].severity is Severity.P1 and seen[0].source == "pagerduty"

    runtime.clock._now += timedelta(minutes=3)  # type: ignore[attr-defined]
    assert client.post("/api/v1/events/pagerduty", json=PD_ACK).status_code == 202
    assert client.post("/api/v1/events/pagerduty", json=PD_ACK).status_code == 202  # once is enough
    assert client.post("/api/v1/events/pagerduty", json=PD_RESOLVE).status_code == 202
    assert client.post("/api/v1/events/pagerduty", json=PD_RESOLVE).status_code == 202  # nothing left
    kinds = [t.kind for t in seen]
    assert kinds == [TransitionKind.FIRED, TransitionKind.ACKNOWLEDGED, TransitionKind.RESOLVED]
    (row,) = alerts(runtime)
    assert row.state == "resolved" and row.acknowledged_at is not None and row.open_key is None
    with runtime.sessions() as session:
        events = session.scalars(select(AlertEventRow).order_by(AlertEventRow.id)).all()
        assert [(e.from_state, e.to_state) for e in events] == [
            ("inactive", "firing"), ("firing", "acknowledged"), ("firing", "resolved")
        ]
    # a new trigger with the same key after the resolve is a new alert
    assert client.post("/api/v1/events/pagerduty", json=PD_TRIGGER).status_code == 202
    assert [a.state for a in alerts(runtime)] == ["resolved", "firing"]


def test_pagerduty_trigger_without_dedup_key_gets_one(client: TestClient, runtime: Runtime) -> None:
    body = {k: v for k, v in PD_TRIGGER.items() if k != "dedup_key"}
    body["payload"] = {**PD_TRIGGER["payload"], "severity": "info"}
    r = client.post("/api/v1/events/pagerduty/v2/enqueue", json=body)
    assert r.status_code == 202
    key = r.json()["dedup_key"]
    assert len(key) == 32
    (row,) = alerts(runtime)
    assert row.dedup_key == key and row.severity == "P4"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("not json", "the body is not JSON"),
        ([1, 2], "the body must be a JSON object"),
        ({**PD_TRIGGER, "event_action": "explode"}, "event_action"),
        ({**PD_TRIGGER, "routing_key": "wrong"}, "routing_key is not known"),
        ({k: v for k, v in PD_TRIGGER.items() if k != "routing_key"}, "routing_key: Field required"),
        ({k: v for k, v in PD_TRIGGER.items() if k != "payload"}, "payload: required for a trigger event"),
        ({**PD_TRIGGER, "payload": {**PD_TRIGGER["payload"], "severity": "catastrophic"}},
         "payload.severity"),
        ({**PD_TRIGGER, "payload": {**PD_TRIGGER["payload"], "summary": ""}}, "payload.summary"),
        ({**PD_TRIGGER, "payload": {"summary": "x", "severity": "info"}}, "payload.source: Field required"),
        ({"routing_key": ROUTING_KEY, "event_action": "resolve"}, "dedup_key: required for an resolve event"),
        ({**PD_TRIGGER, "dedup_key": "x" * 256}, "dedup_key"),
    ],
)
def test_pagerduty_malformed_is_400(client: TestClient, runtime: Runtime, body: Any, error: str) -> None:
    r = (client.post("/api/v1/events/pagerduty", content=body) if isinstance(body, str)
         else client.post("/api/v1/events/pagerduty", json=body))
    assert r.status_code == 400
    data = r.json()
    assert data["status"] == "invalid event" and data["message"] == "Event object is invalid"
    assert any(error in e for e in data["errors"]), data
    assert alerts(runtime) == []


def _json(body: Any) -> bytes:
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    "body",
    [
        _json(PD_TRIGGER),
        _json(PD_ACK),
        _json({**PD_TRIGGER, "routing_key": "wrong"}),
        _json({k: v for k, v in PD_TRIGGER.items() if k != "payload"}),
        _json([1, 2]),
        b"not json",
        b"[" * 100 + b"]" * 100,
        "{\"summary\": \"caf\u00e9\"}".encode(),
        b"",
    ],
    ids=["trigger", "ack", "wrong-key", "no-payload", "array", "not-json", "deep", "utf8", "empty"],
)
def test_the_fast_path_and_the_route_answer_alike(runtime: Runtime, body: bytes) -> None:
    routed = FastAPI()
    routed.state.runtime = runtime
    routed.include_router(router)
    fast = FastAPI()  # no routes: only the middleware can answer
    fast.state.runtime = runtime
    fast.add_middleware(IngestFastPath, runtime=runtime, state=fast.state)
    headers = {"content-type": "application/json"}
    with TestClient(routed) as by_route, TestClient(fast) as by_fast_path:
        for path in IngestFastPath.PATHS:
            one = by_route.post(path, content=body, headers=headers)
            other = by_fast_path.post(path, content=body, headers=headers)
            assert one.status_code in (202, 400)
            assert (one.status_code, dict(one.headers), one.content) == (
                other.status_code, dict(other.headers), other.content)
        assert by_fast_path.get("/api/v1/events/pagerduty").status_code == 404  # only POST is taken


@pytest.fixture
def responder(runtime: Runtime) -> dict[str, str]:
    with runtime.sessions.begin() as session:
        made = {role: create_token(session, role.value, role, runtime.clock.now()) for role in Role}
    return {"Authorization": f"Bearer {made[Role.RESPONDER]}"}


def test_alertmanager_firing_then_resolved(client: TestClient, runtime: Runtime, responder: dict[str, str],
                                           seen: list[AlertTransition]) -> None:
    url = "/api/v1/events/alertmanager?service=db"
    assert client.post(url, json=AM_FIRING).status_code == 401  # needs a token
    r = client.post(url, json=AM_FIRING, headers=responder)
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "success", "alerts": 2, "transitions": 2}
    repeat = client.post(url, json=AM_FIRING, headers=responder)
    assert repeat.json()["transitions"] == 0  # deduplicated
    first, second = alerts(runtime)
    assert (first.dedup_key, first.service, first.severity, first.summary, first.runbook) == (
        "1a30ba71cca2921f", "api", "P1", "BlackBox Probe Failure: https://server.example.org",
        "https://runbooks.example.org/probe")
    assert (second.dedup_key, second.service, second.severity) == ("77aa00b1cc2921f0", "db", "P3")
    assert second.summary == "Instance https://other.example.org has been down for over 5m."
    assert first.labels["instance"] == "https://server.example.org"
    resolved = copy.deepcopy(AM_FIRING)
    resolved["status"] = "resolved"
    resolved["alerts"] = [{**resolved["alerts"][0], "status": "resolved", "endsAt": "2023-02-06T13:20:00Z"}]
    r = client.post(url, json=resolved, headers=responder)
    assert r.json()["transitions"] == 1
    assert [a.state for a in alerts(runtime)] == ["resolved", "firing"]
    assert [(t.kind, t.dedup_key) for t in seen] == [
        (TransitionKind.FIRED, "1a30ba71cca2921f"), (TransitionKind.FIRED, "77aa00b1cc2921f0"),
        (TransitionKind.RESOLVED, "1a30ba71cca2921f"),
    ]


def test_alertmanager_without_fingerprint_dedups_by_labels(client: TestClient, runtime: Runtime,
                                                           responder: dict[str, str]) -> None:
    body = copy.deepcopy(AM_FIRING)
    for alert in body["alerts"]:
        del alert["fingerprint"]
    client.post("/api/v1/events/alertmanager", json=body, headers=responder)
    client.post("/api/v1/events/alertmanager", json=body, headers=responder)
    assert len(alerts(runtime)) == 2
    assert {a.service for a in alerts(runtime)} == {"api", "alertmanager"}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("{", "the body is not JSON"),
        ({**AM_FIRING, "version": "3"}, "version: '3' is not supported"),
        ({**AM_FIRING, "status": "burning"}, "status"),
        ({k: v for k, v in AM_FIRING.items() if k != "alerts"}, "alerts: Field required"),
        ({**AM_FIRING, "alerts": [{"status": "firing"}]}, "alerts.0.labels: Field required"),
        ({**AM_FIRING, "alerts": [{"status": "firing", "labels": {"a": 1}}]}, "alerts.0.labels.a"),
    ],
)
def test_alertmanager_malformed_is_400(client: TestClient, runtime: Runtime, responder: dict[str, str],
                                       body: Any, error: str) -> None:
    url = "/api/v1/events/alertmanager"
    r = (client.post(url, content=body, headers=responder) if isinstance(body, str)
         else client.post(url, json=body, headers=responder))
    assert r.status_code == 400
    assert any(error in e for e in r.json()["errors"]), r.json()
    assert alerts(runtime) == []


def test_racing_triggers_of_a_new_key_make_one_alert(runtime: Runtime) -> None:
    """Two transactions trigger the same new key at once: the loser retries and deduplicates."""
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serializes writers; the race needs PostgreSQL")
    event = ExternalEvent("pagerduty", "race", ExternalAction.TRIGGER, "db", Severity.P2, "s", {})
    results: list[list[list[AlertTransition]]] = []
    with runtime.sessions.begin() as first:
        mine = apply_external(first, event, runtime.clock.now())
        other = threading.Thread(target=lambda: results.append(GroupCommit(runtime).apply([[event]])))
        other.start()
        with runtime.engine.connect() as probe:  # wait until the other insert blocks on our unique key
            deadline = time.monotonic() + 30  # real time: the other thread must reach its INSERT
            while time.monotonic() < deadline:
                waiting = probe.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()")).scalar()
                probe.rollback()  # pg_stat_activity is read once per transaction: look afresh next time
                if waiting:
                    break
                time.sleep(0.01)
            assert waiting, "the second trigger never blocked"
    other.join(timeout=30)
    assert [t.kind for t in mine] == [TransitionKind.FIRED]
    assert results == [[[]]]  # deduplicated on retry
    assert [(a.dedup_key, a.state) for a in alerts(runtime)] == [("race", "firing")]
