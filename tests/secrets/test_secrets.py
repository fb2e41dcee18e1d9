"""Secrets through the pipeline on a fake clock: rotation due soon and overdue at their instants, the
owner told, a compromise's incident with the emergency deadline as its SLA, rotations learned from a
runbook run, a command and a file, and the rotation-failure hook."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from opsbook.alerts.models import AlertRow
from opsbook.auth.roles import Principal, Role
from opsbook.auth.tokens import create_token
from opsbook.checks import store
from opsbook.clock import FakeClock
from opsbook.errors import Invalid, NotFound
from opsbook.incidents.models import IncidentAlertRow, IncidentRow
from opsbook.notify.models import OutboxRow
from opsbook.pipeline import Pipeline
from opsbook.runbooks.service import find_procedure, start_run, take_step
from opsbook.runtime import Runtime
from opsbook.secrets import service
from opsbook.secrets.age import judge
from opsbook.secrets.config import SecretConfig
from opsbook.web.app import create_app
from tests.backups.support import settle
from tests.support import make_runtime, serving

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ANA = Principal("ana", Role.RESPONDER, "test")

RUNBOOK = """# Security

## Rotate the JWT secret

```bash
# Generate and store a new key
echo rotated
```
"""


def config(folder: Path, extra: str = "") -> str:
    return f"""
timezone: UTC
users:
  - {{name: ana, contacts: [{{url: "json://127.0.0.1:9/ana"}}]}}
channels:
  - {{name: team, url: "json://127.0.0.1:9/team"}}
runbooks: {{folders: ["{folder}"]}}
secrets:
  - name: jwt-signing-key
    owner: ana
    protects: API sessions
    every: 90d
    rotation: Rotate the JWT secret
{extra}
"""


def firing(engine: Engine, check: str) -> dict[str, AlertRow]:
    with Session(engine) as s:
        rows = s.scalars(select(AlertRow).where(AlertRow.check_id == check, AlertRow.state == "firing"))
        return {r.rule or r.dedup_key: r for r in rows}


def results(engine: Engine, check: str) -> int:
    with Session(engine) as s:
        return len(store.results(s, check, datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC),
                                 limit=100_000))


def outbox(engine: Engine, kind: str) -> list[OutboxRow]:
    with Session(engine) as s:
        return list(s.scalars(select(OutboxRow).where(OutboxRow.kind == kind).order_by(OutboxRow.id)))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "security.md").write_text(RUNBOOK)
    return tmp_path / "runbooks"


@pytest.fixture
async def running(sqlite_engine: Engine, folder: Path) -> AsyncIterator[tuple[Runtime, Pipeline, FakeClock]]:
    clock = FakeClock(START)
    runtime = make_runtime(sqlite_engine, clock, config(folder))
    service.record_rotation(runtime, ANA, "jwt-signing-key", at=START - timedelta(days=70))
    pipeline = Pipeline(runtime)
    await pipeline.start()
    try:
        yield runtime, pipeline, clock
    finally:
        await pipeline.stop()


async def test_due_soon_at_76_days_and_overdue_at_90_the_owner_told_each_time(
    running: tuple[Runtime, Pipeline, FakeClock], sqlite_engine: Engine
) -> None:
    runtime, pipeline, clock = running
    check = "secrets/jwt-signing-key"
    await settle(pipeline, lambda: results(sqlite_engine, check) > 0)
    assert firing(sqlite_engine, check) == {}  # 70 days old: nothing yet

    # rotated 70 days ago: due at 90 days, told 14 days ahead (76 days): 6 days from now
    seen = results(sqlite_engine, check)
    await clock.advance(timedelta(days=6) - timedelta(seconds=1))
    await settle(pipeline, lambda: results(sqlite_engine, check) > seen)  # the hourly round
    assert firing(sqlite_engine, check) == {}
    await clock.advance(timedelta(seconds=1))
    await settle(pipeline, lambda: "rotation-due" in firing(sqlite_engine, check))
    due = firing(sqlite_engine, check)["rotation-due"]
    assert due.severity == "P3" and due.fired_at == START + timedelta(days=6)
    assert "due in 14.0 days" in due.summary
    [told] = outbox(sqlite_engine, "secret")
    assert told.channel == "contact:ana:0"
    assert told.subject.endswith("secret jwt-signing-key rotation due soon")
    assert 'opsbook runbook run "Rotate the JWT secret"' in told.body

    # 90 days after the rotation: overdue (P2), the due-soon alert resolves, the owner told again
    await clock.advance(timedelta(days=14))
    await settle(pipeline, lambda: "rotation-overdue" in firing(sqlite_engine, check))
    overdue = firing(sqlite_engine, check)["rotation-overdue"]
    assert overdue.severity == "P2" and overdue.fired_at == START + timedelta(days=20)
    assert "rotation-due" not in firing(sqlite_engine, check)
    assert [r.subject.rsplit(" ", 1)[-1] for r in outbox(sqlite_engine, "secret")] == ["soon", "overdue"]

    # a day later (91 days old) it is still overdue; then the rotation is recorded and it resolves
    await clock.advance(timedelta(days=1))
    [view] = service.secret_views(runtime, "jwt-signing-key")
    assert view.state.status_word == "overdue" and view.state.age == timedelta(days=91)
    service.record_rotation(runtime, ANA, "jwt-signing-key", note="new key in the vault")
    await settle(pipeline, lambda: firing(sqlite_engine, check) == {})


def test_91_days_against_a_90_day_policy_is_overdue_and_90_is_the_instant() -> None:
    secret = SecretConfig.model_validate({"name": "jwt", "owner": "ana", "every": "90d"})
    rotated = START
    assert judge(secret, rotated, None, START + timedelta(days=91)).overdue
    assert judge(secret, rotated, None, START + timedelta(days=90)).overdue
    almost = judge(secret, rotated, None, START + timedelta(days=90) - timedelta(seconds=1))
    assert not almost.overdue and almost.due_soon
    assert not judge(secret, rotated, None, START + timedelta(days=76) - timedelta(seconds=1)).due_soon
    assert judge(secret, None, None, START).status_word == "unknown"


async def test_a_compromise_opens_an_incident_due_in_24_hours_that_the_rotation_resolves(
    running: tuple[Runtime, Pipeline, FakeClock], sqlite_engine: Engine
) -> None:
    runtime, pipeline, clock = running
    row = service.report_compromise(runtime, ANA, "jwt-signing-key", "key found in a public gist")
    assert row.due_at == START + timedelta(hours=24)
    with Session(sqlite_engine) as s:
        incident = s.get(IncidentRow, row.incident_id)
        assert incident is not None
        assert (incident.severity, incident.status, incident.service) == ("P1", "triggered", "secrets")
        assert incident.ack_deadline == START + timedelta(hours=24)  # the SLA: the emergency deadline
        [link] = s.scalars(select(IncidentAlertRow).where(IncidentAlertRow.incident_id == incident.id))
        alert = s.get(AlertRow, link.alert_id)
        assert alert is not None and alert.runbook == "Rotate the JWT secret" and alert.state == "firing"
    [view] = service.secret_views(runtime, "jwt-signing-key")
    assert view.state.status_word == "compromised"

    # not rotated 24 h later: the emergency rotation is overdue (P1)
    await clock.advance(timedelta(hours=24))
    check = "secrets/jwt-signing-key"
    await settle(pipeline, lambda: "emergency-rotation-overdue" in firing(sqlite_engine, check))
    assert firing(sqlite_engine, check)["emergency-rotation-overdue"].severity == "P1"

    # the rotation procedure is run (the runbook run records the rotation): the incident resolves
    found = find_procedure(runtime, "Rotate the JWT secret")
    started = start_run(runtime, ANA, found, incident_id=row.incident_id, reason="compromised key")
    taken = await take_step(runtime, ANA, started.run.id, 0, "run")
    assert taken.state.run.status == "succeeded"

    def resolved() -> bool:
        with Session(sqlite_engine) as s:
            incident = s.get(IncidentRow, row.incident_id)
            return incident is not None and incident.status == "resolved"

    await settle(pipeline, resolved)
    await settle(pipeline, lambda: firing(sqlite_engine, check) == {})
    [view] = service.secret_views(runtime, "jwt-signing-key")
    assert view.last is not None and view.last.source == "runbook" and view.last.actor == "ana"
    assert view.compromise is None and view.state.status_word == "ok"


async def test_a_rotation_failure_hook_alerts_at_once(
    running: tuple[Runtime, Pipeline, FakeClock], sqlite_engine: Engine
) -> None:
    runtime, pipeline, _clock = running
    with runtime.sessions.begin() as s:
        token = create_token(s, "rotator", Role.RESPONDER, START)
    async with serving(create_app(runtime, pipeline, run_pipeline=False)) as base, \
            httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}) as http:
        answer = await http.post("/api/v1/secrets/jwt-signing-key/rotation-failed",
                                 json={"message": "vault refused the new version"})
        assert answer.status_code == 202, answer.text
        assert answer.json() == {"status": "accepted", "alerted": True}
        assert (await http.post("/api/v1/secrets/nope/rotation-failed", json={})).status_code == 404
        listed = (await http.get("/api/v1/secrets")).json()
        assert [(s["name"], s["state"], s["owner"]) for s in listed] == [("jwt-signing-key", "ok", "ana")]
    with Session(sqlite_engine) as s:
        alert = s.scalars(select(AlertRow).where(AlertRow.source == "secrets")).one()
    assert alert.state == "firing" and alert.severity == "P1"
    assert alert.summary == "Secret jwt-signing-key: rotation failed: vault refused the new version"
    assert [r.kind for r in outbox(sqlite_engine, "firing")] == ["firing"]
    service.record_rotation(runtime, ANA, "jwt-signing-key")
    with Session(sqlite_engine) as s:
        assert s.get(AlertRow, alert.id).state == "resolved"  # type: ignore[union-attr]


async def test_rotations_are_read_from_a_command_and_from_a_file(
    sqlite_engine: Engine, folder: Path, tmp_path: Path
) -> None:
    key = tmp_path / "tls.key"
    key.write_text("not a real key")
    os.utime(key, (START.timestamp() - 86400 * 10,) * 2)
    extra = f"""
  - name: tls-key
    owner: ana
    every: 365d
    last_rotated: {{file: "{key}"}}
  - name: db-password
    owner: ana
    every: 90d
    last_rotated: {{command: "echo 2026-01-01T00:00:00Z"}}
  - name: broken
    owner: ana
    every: 90d
    last_rotated: {{command: "echo no date here"}}
"""
    clock = FakeClock(START)
    runtime = make_runtime(sqlite_engine, clock, config(folder, extra))
    pipeline = Pipeline(runtime)
    await pipeline.start()
    try:
        await settle(pipeline, lambda: len({v.config.name for v in service.secret_views(runtime)
                                            if v.last is not None}) == 2)
    finally:
        await pipeline.stop()
    views = {v.config.name: v for v in service.secret_views(runtime)}
    assert views["tls-key"].last is not None and views["tls-key"].last.source == "file"
    assert views["tls-key"].state.age == timedelta(days=10)
    assert views["db-password"].state.last_rotated == datetime(2026, 1, 1, tzinfo=UTC)
    assert views["db-password"].state.status_word == "ok"  # 60 days old: due soon from 76 days
    assert views["broken"].state.status_word == "unknown"
    assert "the command printed no date" in pipeline.secrets.errors["broken"]


def test_use_cases_refuse_what_they_cannot_do(sqlite_engine: Engine, folder: Path) -> None:
    runtime = make_runtime(sqlite_engine, FakeClock(START), config(folder))
    with pytest.raises(NotFound, match="no secret 'nope' in the inventory"):
        service.record_rotation(runtime, ANA, "nope")
    with pytest.raises(Invalid, match="future"):
        service.record_rotation(runtime, ANA, "jwt-signing-key", at=START + timedelta(hours=1))
    with pytest.raises(Invalid, match="say why"):
        service.report_compromise(runtime, ANA, "jwt-signing-key", " ")
