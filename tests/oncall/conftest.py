"""Fixtures of the on-call tests: a team config with a weekly rotation in Berlin."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from opsbook.config.loader import parse_config
from opsbook.config.schema import OpsbookConfig

TEAM_YAML = """\
timezone: Europe/Berlin
users:
  - name: ana
    full_name: Ana Ruiz
    email: ana@example.com
    timezone: Europe/Berlin
    contacts:
      - url: "json://127.0.0.1:9/ana-page"
        urgency: [P0, P1]
      - url: "mailto://ana@example.com"
        urgency: [P2, P3]
  - name: ben
    full_name: Ben Okafor
    contacts:
      - url: "json://127.0.0.1:9/ben"
  - name: chen
  - name: lead
  - name: cto
schedules:
  - name: primary
    timezone: Europe/Berlin
    layers:
      - name: weekly
        users: [ana, ben, chen]
        turn: 1w
        handoff: "monday 09:00"
        start: 2026-01-05
  - name: business
    timezone: Europe/Berlin
    layers:
      - name: days
        users: [lead]
        turn: 1d
        handoff: "09:00"
        start: 2026-01-05
        restrictions: [{days: [mon, tue, wed, thu, fri], from: "09:00", to: "18:00"}]
escalation_policies:
  - name: default
    renotify_after: 1h
    levels:
      - targets: [schedule:primary]
        after: 10m
      - targets: [user:lead]
        after: 20m
      - targets: [user:cto]
"""


@pytest.fixture
def team() -> OpsbookConfig:
    return parse_config(TEAM_YAML, "opsbook.yaml", env={}).config


@pytest.fixture
def sessions(engine: Engine) -> Iterator[sessionmaker[Session]]:
    yield sessionmaker(engine, expire_on_commit=False)
