"""Fixtures of the incident tests: a team with an on-call rotation and the runbook's escalation path,
a webhook receiver stamping what it gets with the fake clock, and a harness driving alerts, the
escalation engine and the real delivery worker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import Engine
from tests.support import make_runtime

from opsbook.alerts.service import AlertEngine
from opsbook.alerts.types import AlertTransition
from opsbook.checks.result import CheckResult, Status, StoredResult
from opsbook.checks.store import write_batch
from opsbook.clock import FakeClock
from opsbook.incidents.escalation import EscalationEngine
from opsbook.incidents.linking import alert_hook
from opsbook.notify.worker import DeliveryWorker
from opsbook.runtime import Runtime

TEAM = """\
timezone: UTC
base_url: "http://opsbook.test"
services:
  - name: api
    rules:
      - name: api-p95
        check: health
        when: "p95(latency_ms) > 500 for 5m"
        severity: P1
        summary: "API p95 {{{{ value }}}} ms > {{{{ threshold }}}} ms"
    checks:
      - {{name: health, kind: tcp, host: 127.0.0.1, port: 1, interval: 30s}}
  - name: db
    checks:
      - {{name: ping, kind: tcp, host: 127.0.0.1, port: 1, interval: 30s, failures: 1}}
users:
  - name: ana
    full_name: Ana Ruiz
    contacts:
      - {{url: "json://127.0.0.1:{port}/ana", urgency: [P0, P1, P2]}}
  - name: ben
    contacts:
      - {{url: "json://127.0.0.1:{port}/ben"}}
  - name: lead
    contacts:
      - {{url: "json://127.0.0.1:{port}/lead"}}
  - name: cto
    contacts:
      - {{url: "json://127.0.0.1:{port}/cto"}}
schedules:
  - name: primary
    layers:
      - {{name: weekly, users: [ana, ben], turn: 1w, handoff: "monday 09:00", start: 2026-01-05}}
escalation_policies:
  - name: default
    levels:
      - {{targets: ["schedule:primary"], after: 10m}}
      - {{targets: ["user:lead"], after: 20m}}
      - {{targets: ["user:cto"]}}
channels:
  - {{name: updates, url: "json://127.0.0.1:{port}/updates"}}
incidents:
  update_channels: [updates]
{extra}"""


def team_yaml(port: int, extra: str = "") -> str:
    return TEAM.format(port=port, extra=extra)


@dataclass
class Receiver:
    """A webhook receiver: every request with its path, JSON body and the fake clock's time."""

    clock: FakeClock
    port: int = 0
    got: list[dict[str, Any]] = field(default_factory=list)

    def pages(self, *paths: str) -> list[tuple[str, datetime]]:
        wanted = paths or ("/ana", "/ben", "/lead", "/cto")
        return [(g["path"], g["at"]) for g in self.got if g["path"] in wanted]

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [g["json"] for g in self.got if g["path"] == path]


@pytest.fixture
async def receiver(clock: FakeClock) -> AsyncIterator[Receiver]:
    state = Receiver(clock)

    async def handle(request: web.Request) -> web.Response:
        state.got.append({"path": request.path, "json": await request.json(), "at": clock.now()})
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert isinstance(server, asyncio.Server)
    state.port = server.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        await runner.cleanup()


@dataclass
class Team:
    """A runtime on the test database plus the parts of the pipeline the incident path goes through."""

    runtime: Runtime
    clock: FakeClock
    alerts: AlertEngine
    worker: DeliveryWorker

    @property
    def config(self) -> Any:
        return self.runtime.config

    def engine(self, **kwargs: Any) -> EscalationEngine:
        return EscalationEngine(self.runtime, offload=False, **kwargs)

    def result(self, check_id: str, latency: float = 900.0, status: str = "up") -> list[AlertTransition]:
        """Write one result now and evaluate its rules, the incident hook in the same transaction."""
        now = self.clock.now()
        hook = alert_hook(self.config)
        with self.runtime.sessions.begin() as session:
            write_batch(session, [StoredResult(check_id, now, CheckResult(Status(status), latency, "", {}))])
            transitions = self.alerts.process(session, [check_id], now)
            hook(session, transitions, now)
        return transitions

    async def deliver(self) -> int:
        """Let the real delivery worker send whatever is due now."""
        total = 0
        while (n := await self.worker.run_once()) > 0:
            total += n
        return total


def make_team(engine: Engine, clock: FakeClock, port: int, extra: str = "") -> Team:
    runtime = make_runtime(engine, clock, team_yaml(port, extra))
    return Team(runtime, clock, AlertEngine(runtime.config), DeliveryWorker.from_runtime(runtime))


@pytest.fixture
def team(engine: Engine, clock: FakeClock, receiver: Receiver) -> Team:
    return make_team(engine, clock, receiver.port)


async def fire_p1(team: Team) -> datetime:
    """Make api/health breach `p95 > 500 for 5m`: the alert fires (and the incident opens) at +5m."""
    team.result("api/health")
    await team.clock.advance(timedelta(minutes=5))
    fired = team.result("api/health")
    assert [t.kind.value for t in fired] == ["fired"]
    return team.clock.now()
