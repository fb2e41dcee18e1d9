"""Fixtures of the alerts tests: a config with rules, sessions on both databases, a result feeder, and the
ALERTS domain events committed meanwhile."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from opsbook.alerts.service import AlertEngine
from opsbook.alerts.types import AlertTransition
from opsbook.checks.result import CheckResult, Status, StoredResult
from opsbook.checks.store import write_batch
from opsbook.clock import FakeClock
from opsbook.config.loader import LoadedConfig, parse_config
from opsbook.db.engine import make_sessionmaker
from opsbook.events import BUS_KEY, DomainEvent, Event, EventBus, Topic

CONFIG = """\
services:
  - name: api
    rules:
      - name: api-p95
        check: health
        when: "p95(latency_ms) > 500 for 5m"
        severity: P1
        summary: "API p95 {{ value }} ms > {{ threshold }} ms"
        runbook: "API Not Responding"
    checks:
      - name: health
        kind: tcp
        host: 127.0.0.1
        port: 1
        interval: 30s
      - name: flappy
        kind: tcp
        host: 127.0.0.1
        port: 1
        interval: 30s
        failures: 1
        rules:
          - name: slow
            when: "latency_ms > 100"
            min_firing: 5m
  - name: jobs
    checks:
      - name: nightly
        kind: heartbeat
        period: 1m
        grace: 10s
        failures: 0
        rules:
          - when: heartbeat missing for 2m
            severity: P0
alerting:
  default_failures: 3
"""


def load(text: str = CONFIG) -> LoadedConfig:
    return parse_config(text, "ops.yaml", {})


@dataclass
class Harness:
    sessions: sessionmaker[Session]
    clock: FakeClock
    engine: AlertEngine

    def write(self, check_id: str, status: str = "up", latency: float | None = 100.0, *,
              at: datetime | None = None, message: str = "", values: dict[str, float] | None = None) -> None:
        ts = at or self.clock.now()
        with self.sessions.begin() as session:
            result = CheckResult(Status(status), latency, message, values or {})
            write_batch(session, [StoredResult(check_id, ts, result)])

    def process(self, *check_ids: str, engine: AlertEngine | None = None) -> list[AlertTransition]:
        with self.sessions.begin() as session:
            return (engine or self.engine).process(session, check_ids, self.clock.now())

    def due(self, engine: AlertEngine | None = None) -> list[AlertTransition]:
        with self.sessions.begin() as session:
            return (engine or self.engine).process_due(session, self.clock.now())

    def tick(self, check_id: str, status: str = "up", latency: float | None = 100.0,
             step: timedelta = timedelta(seconds=30), message: str = "") -> list[AlertTransition]:
        """Advance the clock by `step`, write one result at the new time and process it."""
        self.clock._now += step  # synchronous tests: no sleepers to wake
        self.write(check_id, status, latency, message=message)
        return self.process(check_id)


@pytest.fixture
def harness(engine: Engine, clock: FakeClock) -> Iterator[Harness]:
    yield Harness(make_sessionmaker(engine), clock, AlertEngine(load().config))


@pytest.fixture
def alert_events(harness: Harness) -> list[tuple[str, str]]:
    """(action, subject) of every ALERTS event published after a commit of the harness's sessions."""
    bus = harness.sessions.kw["info"][BUS_KEY]
    assert isinstance(bus, EventBus)
    seen: list[tuple[str, str]] = []

    def collect(event: Event) -> None:
        assert isinstance(event, DomainEvent)
        seen.append((event.action, event.subject))

    bus.subscribe(Topic.ALERTS, collect)
    return seen
