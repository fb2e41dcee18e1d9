"""Fixtures for end-to-end scenarios: a webhook receiver and a service whose health the test controls."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import cast

import pytest
from aiohttp import web

from opsbook.clock import FakeClock
from opsbook.pipeline import Pipeline
from tests.notify.conftest import Receiver, receiver  # noqa: F401  (fixture re-used here)


@dataclass
class Service:
    """An HTTP service on 127.0.0.1 whose /health answers `status`."""

    port: int = 0
    status: int = 200
    hits: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/health"


@pytest.fixture
async def api() -> AsyncIterator[Service]:
    state = Service()

    async def health(_request: web.Request) -> web.Response:
        state.hits += 1
        return web.Response(status=state.status, text="ok" if state.status == 200 else "boom")

    app = web.Application()
    app.router.add_get("/health", health)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    assert site._server is not None
    state.port = cast(asyncio.Server, site._server).sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        await runner.cleanup()


async def eventually(predicate: Callable[[], bool | Awaitable[bool]], what: str, limit: float = 15.0) -> None:
    """Wait for real I/O (an HTTP probe, a delivery) to finish; the scenario's own time is the fake clock."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        value = predicate()
        if isinstance(value, Awaitable):
            value = await value
        if value:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Intervals:
    """Drives a pipeline on a fake clock one check interval at a time: the checks due in it run (real I/O,
    waited for), their results are written, and what they caused is delivered."""

    pipeline: Pipeline
    clock: FakeClock
    per_interval: int = 1  # check runs each interval brings
    runs: int = 0

    async def started(self) -> None:
        """Wait for the first run (every check runs once when the scheduler starts, spread or not)."""
        await eventually(lambda: self.pipeline.scheduler.stats.finished >= 1, "the first run")
        self.runs = 1

    async def next(self, step: timedelta = timedelta(seconds=30)) -> None:
        self.runs += self.per_interval
        await self.clock.advance(step)
        runs = self.runs
        await eventually(lambda: self.pipeline.scheduler.stats.finished >= runs, f"{runs} check runs")
        await self.pipeline.writer.flush()
        await self.pipeline.notifier.run_once()


def team_yaml(hook: Receiver) -> str:
    """The team of the scenarios: ana and ben on a weekly Berlin rotation (ana's week from 2026-03-09),
    lead and cto, and the runbooks' escalation "on-call → lead after 10 min → CTO after 30 min"; every
    contact is a path on the webhook receiver (ana has two: Slack and SMS)."""
    return f"""
users:
  - name: ana
    contacts:
      - {{url: "{hook.url("/ana-slack")}"}}
      - {{url: "{hook.url("/ana-sms")}"}}
  - {{name: ben, contacts: [{{url: "{hook.url("/ben")}"}}]}}
  - {{name: lead, role: responder, contacts: [{{url: "{hook.url("/lead")}"}}]}}
  - {{name: cto, contacts: [{{url: "{hook.url("/cto")}"}}]}}
schedules:
  - name: primary
    timezone: Europe/Berlin
    layers:
      - {{name: weekly, users: [ana, ben], turn: 1w, handoff: "monday 09:00", start: 2026-03-02}}
escalation_policies:
  - name: default
    levels:
      - {{targets: ["schedule:primary"], after: 10m}}
      - {{targets: ["user:lead"], after: 20m}}
      - {{targets: ["user:cto"]}}
"""
