"""Signed ack links (once, for their incident only, refused altered or expired) and the HTTP API's roles
and audit rows."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from tests.incidents.conftest import team_yaml
from tests.support import make_runtime

from opsbook.auth.models import AuditRow
from opsbook.auth.roles import Principal, Role
from opsbook.auth.tokens import create_token
from opsbook.checks.models import MetaRow
from opsbook.clock import FakeClock
from opsbook.incidents import queries, service, signed
from opsbook.notify.models import OutboxRow
from opsbook.runtime import Runtime
from opsbook.web.app import create_app

BEN = Principal("ben", Role.RESPONDER, "cli")
SECRET = "s3cret-for-tests"


def test_tokens_are_bound_signed_and_expiring(clock: FakeClock) -> None:
    now = clock.now()
    token = signed.make_token(SECRET, 7, now, "ana")
    claim = signed.read_token(SECRET, token, now + timedelta(hours=23), timedelta(hours=24), incident_id=7)
    assert (claim.incident_id, claim.user, claim.issued_at) == (7, "ana", now)
    with pytest.raises(signed.LinkWrongIncident, match="for incident #7, not #8"):
        signed.read_token(SECRET, token, now, timedelta(hours=24), incident_id=8)
    with pytest.raises(signed.LinkExpired):
        signed.read_token(SECRET, token, now + timedelta(hours=24, seconds=1), timedelta(hours=24))
    altered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    with pytest.raises(signed.LinkInvalid):
        signed.read_token(SECRET, altered, now, timedelta(hours=24))
    payload, rest = token.split(".", 1)
    forged = payload.replace(payload[2], "x" if payload[2] != "x" else "y", 1) + "." + rest
    with pytest.raises(signed.LinkInvalid):
        signed.read_token(SECRET, forged, now, timedelta(hours=24))
    with pytest.raises(signed.LinkInvalid):
        signed.read_token("another-secret", token, now, timedelta(hours=24))
    assert signed.make_token(SECRET, 7, now, "ana") != token  # a fresh nonce each time


def test_generated_secret_is_kept_in_the_database(engine: Engine) -> None:
    runtime = make_runtime(engine, FakeClock(), team_yaml(9))
    with runtime.sessions.begin() as s:
        first = signed.link_secret(s, None)
    with runtime.sessions.begin() as s:
        assert signed.link_secret(s, None) == first
        assert s.get(MetaRow, signed.META_KEY) is not None
        assert signed.link_secret(s, "configured") == "configured"
    assert len(first) >= 32


def _ack_tokens(runtime: Runtime, incident_id: int) -> list[str]:
    with runtime.sessions() as s:
        bodies = s.scalars(select(OutboxRow.body).where(OutboxRow.incident_id == incident_id,
                                                        OutboxRow.channel.like("contact:%"))).all()
    return [m for b in bodies for m in re.findall(r"/ack/(\S+)", b)]


@dataclass
class Api:
    client: TestClient
    runtime: Runtime
    clock: FakeClock
    viewer: dict[str, str]
    responder: dict[str, str]


@pytest.fixture
def api(engine: Engine) -> Iterator[Api]:
    clock = FakeClock()
    runtime = make_runtime(engine, clock, team_yaml(9, "  link_secret: ${OPSBOOK_LINK_SECRET}\n"),
                           env={"OPSBOOK_LINK_SECRET": SECRET})
    with runtime.sessions.begin() as s:
        viewer = create_token(s, "wall", Role.VIEWER, clock.now())
        responder = create_token(s, "ben", Role.RESPONDER, clock.now())
    with TestClient(create_app(runtime, run_pipeline=False)) as client:
        yield Api(client, runtime, clock, {"Authorization": f"Bearer {viewer}"},
                  {"Authorization": f"Bearer {responder}"})


def _open(api: Api, title: str = "Checkout down", severity: str = "P1") -> int:
    res = api.client.post("/api/v1/incidents", headers=api.responder,
                          json={"title": title, "severity": severity, "service": "api"})
    assert res.status_code == 201, res.text
    return int(res.json()["id"])


async def test_signed_link_works_once_for_its_incident(api: Api) -> None:
    first = _open(api)
    second = _open(api, "Search slow", "P2")
    [token] = _ack_tokens(api.runtime, first)
    assert signed.SALT and SECRET not in token

    page = api.client.get(f"/ack/{token}")
    assert page.status_code == 200 and "Acknowledge as ana" in page.text and "Checkout down" in page.text
    assert api.client.get(f"/ack/{token[:-2]}xx").status_code == 400
    with pytest.raises(signed.LinkWrongIncident):
        service.acknowledge_with_link(api.runtime, token, incident_id=second)

    done = api.client.post(f"/ack/{token}")
    assert done.status_code == 200 and "Acknowledged by ana" in done.text
    again = api.client.post(f"/ack/{token}")
    assert again.status_code == 410 and "used already" in again.text
    assert api.client.get(f"/ack/{token}").status_code == 410
    with api.runtime.sessions() as s:
        one, two = queries.get_incident(s, first), queries.get_incident(s, second)
        assert (one.status, one.acknowledged_by) == ("acknowledged", "ana")
        assert two.acknowledged_at is None  # the link acknowledged its own incident only
        audit = s.scalars(select(AuditRow).where(AuditRow.action == "incident.ack")).all()
        rows = [(a.actor, a.target, a.source) for a in audit]
        assert rows == [("ana", f"incident:{first}", "link testclient")]
        timeline = [i.message for i in queries.timeline(s, first)]
    assert "Acknowledged by ana via link" in timeline


async def test_expired_link_is_refused(api: Api) -> None:
    incident_id = _open(api)
    [token] = _ack_tokens(api.runtime, incident_id)
    await api.clock.advance(timedelta(hours=24, seconds=1))
    res = api.client.post(f"/ack/{token}")
    assert res.status_code == 410 and "expired" in res.text
    with api.runtime.sessions() as s:
        assert queries.get_incident(s, incident_id).acknowledged_at is None


def test_api_roles_changes_and_audit(api: Api) -> None:
    c = api.client
    assert c.get("/api/v1/incidents").status_code == 401
    body = {"title": "Checkout down", "severity": "P1", "service": "api"}
    assert c.post("/api/v1/incidents", headers=api.viewer, json=body).status_code == 403
    res = c.post("/api/v1/incidents", headers=api.responder, json={**body, "service": "nope"})
    assert res.status_code == 400
    incident_id = _open(api)
    assert c.post(f"/api/v1/incidents/{incident_id}/ack", headers=api.viewer).status_code == 403
    res = c.post(f"/api/v1/incidents/{incident_id}/ack", headers=api.responder)
    assert res.status_code == 200 and res.json()["acknowledged_by"] == "token:ben"
    res = c.post(f"/api/v1/incidents/{incident_id}/status", headers=api.responder,
                 json={"status": "identified", "message": "bad deploy", "impact": "checkout fails",
                       "eta": "15m"})
    assert res.json()["status"] == "identified" and res.json()["eta"] == "15m"
    bogus = c.post(f"/api/v1/incidents/{incident_id}/status", headers=api.responder, json={"status": "bogus"})
    assert bogus.status_code == 400 and "'bogus' is not a status" in bogus.json()["detail"]
    res = c.post(f"/api/v1/incidents/{incident_id}/notes", headers=api.responder,
                 json={"text": "rolled back"})
    assert res.status_code == 201 and res.json()["actor"] == "token:ben"
    res = c.post(f"/api/v1/incidents/{incident_id}/severity", headers=api.responder, json={"severity": "P0"})
    assert res.json()["severity"] == "P0"
    res = c.patch(f"/api/v1/incidents/{incident_id}", headers=api.responder,
                  json={"commander": "lead", "customer_facing": True})
    assert res.json()["commander"] == "lead" and res.json()["customer_facing"] is True
    res = c.post(f"/api/v1/incidents/{incident_id}/resolve", headers=api.responder, json={"message": "fixed"})
    assert res.json()["status"] == "resolved"
    again = c.post(f"/api/v1/incidents/{incident_id}/ack", headers=api.responder)
    assert again.status_code == 409
    assert again.json() == {"detail": f"incident {incident_id} is resolved already"}
    assert c.post("/api/v1/incidents/99/ack", headers=api.responder).status_code == 404
    assert c.post(f"/api/v1/incidents/{incident_id}/notes", headers=api.responder,
                  json={"text": "  "}).status_code == 400  # an empty note

    listed = c.get("/api/v1/incidents", headers=api.viewer, params={"severity": "p0"}).json()
    assert [i["id"] for i in listed] == [incident_id]
    assert c.get("/api/v1/incidents", headers=api.viewer, params={"open": "true"}).json() == []
    shown = c.get(f"/api/v1/incidents/{incident_id}", headers=api.viewer).json()
    assert [t["kind"] for t in shown["timeline"]] == [
        "opened", "page", "acknowledged", "status", "note", "severity", "details", "resolved"]
    assert shown["pages"][0]["users"] == ["ana"]
    assert c.get("/api/v1/incidents/99", headers=api.viewer).status_code == 404
    md = c.get(f"/api/v1/incidents/{incident_id}/postmortem", headers=api.viewer)
    assert md.headers["content-type"].startswith("text/markdown") and "## Root cause" in md.text
    with api.runtime.sessions() as s:
        audit = [(a.actor, a.action) for a in s.scalars(select(AuditRow).order_by(AuditRow.id))]
    assert {actor for actor, _ in audit} == {"token:ben"}
    assert [action for _, action in audit] == [
        "incident.open", "incident.ack", "incident.status", "incident.note", "incident.severity",
        "incident.update", "incident.resolve"]
