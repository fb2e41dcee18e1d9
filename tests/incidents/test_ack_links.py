"""An ack link is its recipient's only: the API (list and detail, to any role) and `opsbook notify list`
show stored pages with the link masked, the masked link acknowledges nothing, and the real one
acknowledges once, as the person it was sent to. A link for an incident resolved or acknowledged already
says so, and changes nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from tests.incidents.conftest import team_yaml
from tests.support import make_runtime
from typer.testing import CliRunner

from opsbook.auth.models import AuditRow
from opsbook.auth.roles import Role
from opsbook.auth.tokens import create_token
from opsbook.cli.main import app as cli
from opsbook.clock import FakeClock
from opsbook.incidents import queries, signed
from opsbook.notify.models import OutboxRow
from opsbook.notify.shown import mask_ack_links
from opsbook.runtime import Runtime
from opsbook.web.app import create_app

SECRET = "s3cret-for-tests"
EXTRA = """\
  link_secret: ${OPSBOOK_LINK_SECRET}
notifications:
  templates:
    incident:
      subject: "Page for {{ user }}: {{ title }} {{ ack_link }}"
"""


@dataclass
class Team:
    client: TestClient
    runtime: Runtime
    headers: dict[Role, dict[str, str]]

    def open(self, title: str) -> int:
        res = self.client.post("/api/v1/incidents", headers=self.headers[Role.RESPONDER],
                               json={"title": title, "severity": "P1", "service": "api"})
        assert res.status_code == 201, res.text
        return int(res.json()["id"])

    def links(self, incident_id: int) -> list[str]:
        """The tokens of the links sent to people (read from the outbox: no surface shows them)."""
        with self.runtime.sessions() as s:
            bodies = s.scalars(select(OutboxRow.body).where(OutboxRow.incident_id == incident_id,
                                                            OutboxRow.channel.like("contact:%"))).all()
        return [m for b in bodies for m in re.findall(r"/ack/(\S+)", b)]

    def incident(self, incident_id: int) -> tuple[str, str | None]:
        with self.runtime.sessions() as s:
            row = queries.get_incident(s, incident_id)
            return row.status, row.acknowledged_by


@pytest.fixture
def team(engine: Engine) -> Iterator[Team]:
    runtime = make_runtime(engine, FakeClock(), team_yaml(9, EXTRA), env={"OPSBOOK_LINK_SECRET": SECRET})
    with runtime.sessions.begin() as s:
        headers = {role: {"Authorization": f"Bearer {create_token(s, role.value, role, runtime.clock.now())}"}
                   for role in Role}
    with TestClient(create_app(runtime, run_pipeline=False)) as client:
        yield Team(client, runtime, headers)


def test_mask_covers_the_links_opsbook_makes() -> None:
    now = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
    link = signed.link_url("https://ops.example/", signed.make_token(SECRET, 41, now, "ana"))
    text = f"Acknowledge: {link}\nDetails: https://ops.example/ui/incidents/41"
    assert mask_ack_links(text) == (
        "Acknowledge: https://ops.example/ack/***\nDetails: https://ops.example/ui/incidents/41")


def test_no_surface_shows_a_live_link(team: Team, db_url: str, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    incident_id = team.open("Checkout down")
    [token] = team.links(incident_id)
    for role in Role:  # a viewer, but a responder or an admin is not the person paged either
        listed = team.client.get("/api/v1/notifications", headers=team.headers[role])
        [page] = [n for n in listed.json() if n["kind"] == "incident"]
        shown = team.client.get(f"/api/v1/notifications/{page['id']}", headers=team.headers[role])
        for res in (listed, shown):
            assert res.status_code == 200 and token not in res.text
        assert page["subject"] == "Page for ana: Checkout down http://opsbook.test/ack/***"
        assert "Acknowledge: http://opsbook.test/ack/***" in page["body"]

    config = tmp_path / "opsbook.yaml"
    config.write_text(team_yaml(9, EXTRA))
    for key, value in {"OPSBOOK_CONFIG": str(config), "OPSBOOK_DATABASE_URL": db_url,
                       "OPSBOOK_LINK_SECRET": SECRET, "COLUMNS": "300"}.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(cli, ["notify", "list"])
    assert result.exit_code == 0, result.output
    assert token not in result.output
    assert "Page for ana: Checkout down http://opsbook.test/ack/***" in result.output

    masked = team.client.post("/ack/***")
    assert masked.status_code == 400 and "not valid" in masked.text
    assert team.incident(incident_id) == ("triggered", None)

    done = team.client.post(f"/ack/{token}")
    assert done.status_code == 200 and "Acknowledged by ana. Thank you." in done.text
    assert team.client.post(f"/ack/{token}").status_code == 410  # once
    assert team.incident(incident_id) == ("acknowledged", "ana")
    with team.runtime.sessions() as s:
        acks = s.execute(select(AuditRow.actor, AuditRow.target).where(AuditRow.action == "incident.ack"))
        assert [tuple(a) for a in acks] == [("ana", f"incident:{incident_id}")]


def test_a_link_for_an_incident_resolved_or_acknowledged_already_says_so(team: Team) -> None:
    resolved = team.open("Checkout down")
    [token] = team.links(resolved)
    res = team.client.post(f"/api/v1/incidents/{resolved}/resolve", headers=team.headers[Role.RESPONDER],
                           json={"message": "fixed"})
    assert res.status_code == 200
    when = f"{team.runtime.clock.now():%Y-%m-%d %H:%M} UTC"
    truth = f"Incident #{resolved} was resolved at {when} by token:responder; nothing to acknowledge."
    page = team.client.get(f"/ack/{token}")
    assert page.status_code == 200 and truth in page.text and "<button" not in page.text
    answer = team.client.post(f"/ack/{token}")
    assert answer.status_code == 409 and truth in answer.text
    assert "Thank you" not in answer.text and "Acknowledged by" not in answer.text
    assert team.incident(resolved) == ("resolved", None)  # resolved, never acknowledged (by ana or anyone)

    acknowledged = team.open("Search slow")
    [token] = team.links(acknowledged)
    res = team.client.post(f"/api/v1/incidents/{acknowledged}/ack", headers=team.headers[Role.ADMIN])
    assert res.status_code == 200
    answer = team.client.post(f"/ack/{token}")
    truth = f"Incident #{acknowledged} was acknowledged by token:admin at {when}; nothing to acknowledge."
    assert answer.status_code == 409 and truth in answer.text and "Thank you" not in answer.text
    assert team.incident(acknowledged) == ("acknowledged", "token:admin")
