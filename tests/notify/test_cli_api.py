"""`opsbook notify ...` as a real subprocess, and the /api/v1/notifications router: no secret leaks."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from opsbook.auth.models import AuditRow
from opsbook.auth.roles import Role
from opsbook.auth.tokens import create_token
from opsbook.clock import FakeClock
from opsbook.config.loader import parse_config
from opsbook.db.engine import make_sessionmaker
from opsbook.events import DomainEvent, Event, Topic
from opsbook.notify.channel_test import send_test
from opsbook.notify.models import FAILED, PENDING, OutboxRow
from opsbook.notify.outbox import enqueue
from opsbook.notify.service import UnknownChannel
from opsbook.notify.worker import DeliveryWorker
from opsbook.runtime import Runtime
from opsbook.web.app import create_app
from tests.notify.conftest import Receiver

TOKEN = "s3cr3tT0ken99xyz"
OPSBOOK = str(Path(sys.executable).parent / "opsbook")


async def _opsbook(*args: str, env: dict[str, str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        OPSBOOK,
        *args,
        env={**os.environ, "COLUMNS": "200", **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode()


async def test_notify_test_list_and_channels_commands(receiver: Receiver, tmp_path: Path) -> None:
    receiver.always_fail.add(f"/broken/{TOKEN}")
    config = tmp_path / "opsbook.yaml"
    config.write_text(
        "channels:\n"
        "  - name: hook\n    url: ${HOOK_URL}\n    rate_limit: 30/1m\n"
        f"  - name: broken\n    url: {receiver.url('/broken/' + TOKEN)}?token=qu3ryT0ken42\n"
    )
    env = {
        "OPSBOOK_CONFIG": str(config),
        "OPSBOOK_DATABASE_URL": f"sqlite:///{tmp_path}/opsbook.db",
        "HOOK_URL": receiver.url(f"/hook/{TOKEN}"),
    }

    code, out = await _opsbook("notify", "test", "hook", env=env)
    assert code == 0, out
    assert "sent: test message 1 accepted by hook" in out, out
    [got] = receiver.bodies(f"/hook/{TOKEN}")
    assert got["title"] == "opsbook: test message for channel hook"
    assert "the channel hook works" in got["message"]

    code, out = await _opsbook("notify", "test", "broken", env=env)
    assert code == 1, out
    assert "failed: broken:" in out and "500" in out, out

    code, out = await _opsbook("notify", "list", "--status", "failed", env=env)
    assert code == 0, out
    assert "broken" in out and "test" in out and "attempts:" in out and "500" in out, out
    assert "hook " not in out.split("attempts:")[0].split("\n", 3)[-1], out  # only the failed row is listed
    listed = out

    code, out = await _opsbook("notify", "channels", env=env)
    assert code == 0, out
    assert "JSON (" in out and "30/1m" in out, out
    for text in (out, listed):
        assert TOKEN not in text and "qu3ryT0ken42" not in text


@dataclass
class Api:
    client: TestClient
    runtime: Runtime
    viewer: str
    responder: str


@pytest.fixture
def api(engine: Engine, clock: FakeClock) -> Iterator[Api]:
    loaded = parse_config(
        "channels:\n"
        "  - name: hook\n    url: ${HOOK_URL}\n"
        "  - name: mail\n    url: mailtos://ops:pa55word99@127.0.0.1:9?to=b@x.test&from=a@x.test\n",
        "opsbook.yaml",
        {"HOOK_URL": f"json://127.0.0.1:9/hook/{TOKEN}"},
    )
    runtime = Runtime(loaded=loaded, engine=engine, sessions=make_sessionmaker(engine), clock=clock)
    with runtime.sessions.begin() as s:
        viewer = create_token(s, "v", Role.VIEWER, clock.now())
        responder = create_token(s, "r", Role.RESPONDER, clock.now())
    with TestClient(create_app(runtime, run_pipeline=False)) as client:
        yield Api(client, runtime, viewer, responder)


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_api_lists_notifications_with_attempts_and_retries_failed_ones(
    api: Api, clock: FakeClock
) -> None:
    rt = api.runtime
    with rt.sessions.begin() as s:
        for channel in ("hook", "mail"):
            enqueue(s, channel=channel, subject=f"to {channel}", body="b", kind="firing", now=clock.now())
    worker = DeliveryWorker.from_runtime(rt)
    worker.settings = worker.settings.model_copy(
        update={"retry": worker.settings.retry.model_copy(update={"max_attempts": 1})}
    )
    await worker.run_once()

    res = api.client.get("/api/v1/notifications", headers=_auth(api.viewer))
    assert res.status_code == 200
    items = res.json()
    assert [(i["channel"], i["status"], len(i["attempt_log"])) for i in items] == [
        ("mail", FAILED, 1),
        ("hook", FAILED, 1),
    ]
    assert all(not i["attempt_log"][0]["ok"] and i["attempt_log"][0]["error"] for i in items)
    failed_id = items[1]["id"]
    assert api.client.get("/api/v1/notifications?status=sent", headers=_auth(api.viewer)).json() == []
    assert api.client.get("/api/v1/notifications?status=bogus", headers=_auth(api.viewer)).status_code == 400

    channels = api.client.get("/api/v1/notifications/channels", headers=_auth(api.viewer)).json()
    assert [c["name"] for c in channels] == ["hook", "mail"]
    everything = res.text + str(channels)
    for secret in (TOKEN, "pa55word99"):
        assert secret not in everything

    assert (
        api.client.post(f"/api/v1/notifications/{failed_id}/retry", headers=_auth(api.viewer)).status_code
        == 403
    )
    assert api.client.post(f"/api/v1/notifications/{failed_id}/retry").status_code == 401
    await clock.advance(timedelta(minutes=1))
    events: list[Event] = []
    rt.bus.subscribe(Topic.OUTBOX, events.append)
    res = api.client.post(f"/api/v1/notifications/{failed_id}/retry", headers=_auth(api.responder))
    assert res.status_code == 200, res.text
    assert events == [DomainEvent(Topic.OUTBOX, "retried", f"notification:{failed_id}")]  # wakes the worker
    assert res.json()["status"] == PENDING and res.json()["next_attempt_at"].startswith(
        clock.now().isoformat()[:19]
    )
    assert api.client.post("/api/v1/notifications/999/retry", headers=_auth(api.responder)).status_code == 404
    with rt.sessions() as s:
        [audit] = s.scalars(select(AuditRow).where(AuditRow.action == "notification.retry")).all()
        assert (audit.actor, audit.target) == ("token:r", f"notification:{failed_id}")
        row = s.get(OutboxRow, failed_id)
        assert row is not None and row.status == PENDING and row.attempts == 0

    one = api.client.get(f"/api/v1/notifications/{failed_id}", headers=_auth(api.viewer))
    assert one.status_code == 200 and len(one.json()["attempt_log"]) == 1
    assert api.client.get("/api/v1/notifications/424242", headers=_auth(api.viewer)).status_code == 404


async def test_send_test_refuses_an_unknown_channel_and_names_the_known_ones(api: Api) -> None:
    with pytest.raises(UnknownChannel, match=r"no channel named 'nope' \(channels: hook, mail\)"):
        await send_test(api.runtime, "nope")
