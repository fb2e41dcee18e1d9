"""Fixtures of the silences tests: a runtime around a migrated database, a fake clock and a config."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from opsbook.clock import FakeClock
from opsbook.config.loader import parse_config
from opsbook.db.engine import make_sessionmaker
from opsbook.runtime import Runtime

CONFIG = """\
timezone: Europe/Berlin
services:
  - name: api
  - name: db
maintenance_windows:
  - name: sunday-db
    title: "Weekly database maintenance"
    description: "Vacuum and reindex"
    cron: "0 2 * * 0"
    duration: 2h
    timezone: UTC
    services: [db]
"""

NOW = datetime(2024, 1, 6, 12, 0, tzinfo=UTC)  # a Saturday noon


def advance(clock: FakeClock, delta: timedelta) -> None:
    """Move a fake clock from synchronous test code (nothing sleeps on it in these tests)."""
    asyncio.run(clock.advance(delta))


@pytest.fixture
def runtime(sqlite_engine: Engine) -> Iterator[Runtime]:
    loaded = parse_config(CONFIG, "opsbook.yaml", {})
    yield Runtime(loaded=loaded, engine=sqlite_engine, sessions=make_sessionmaker(sqlite_engine),
                  clock=FakeClock(NOW))
