"""The compact-results migration converts existing rows, both ways, on SQLite and PostgreSQL: rows
written in the old form at the previous revision read back through the new code unchanged."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from opsbook.alerts.service import AlertEngine
from opsbook.checks import store
from opsbook.checks.compact import v1_tables
from opsbook.checks.rollup import HOUR, MINUTE, rollups
from opsbook.config.loader import parse_config
from opsbook.db.engine import make_engine
from opsbook.db.migrate import alembic_config

BEFORE = "c16a00000001"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

OLD_RESULTS, OLD_ROLLUPS = v1_tables()
CONFIG = """
services:
  - name: api
    rules:
      - {name: slow, check: health, when: "p95(latency_ms) > 500 for 5m"}
    checks:
      - {name: health, kind: tcp, host: 127.0.0.1, port: 1, interval: 30s}
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def empty(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database (no migration run yet)."""
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path}/old.db")
        yield eng
        eng.dispose()
        return
    pg_url: str = request.getfixturevalue("pg_url")
    name = f"opsbook_m_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    eng = make_engine(pg_url.rsplit("/", 1)[0] + "/" + name)
    yield eng
    eng.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}"'))
    admin.dispose()


def test_old_rows_read_back_through_the_new_code_and_convert_back(empty: Engine) -> None:
    cfg = alembic_config(empty)
    command.upgrade(cfg, BEFORE)
    said = ["200 OK", "200 OK", "500 Internal Server Error", "200 OK"]
    old: list[dict[str, Any]] = [
        {"check_id": "api/health", "ts": T0 + timedelta(seconds=30 * i), "status": "down" if i == 2 else "up",
         "latency_ms": 100.0 + i, "message": said[i], "values": {"status_code": 500 if i == 2 else 200}}
        for i in range(4)
    ] + [{"check_id": "db/ping", "ts": T0, "status": "degraded", "latency_ms": None, "message": "",
          "values": {}}]
    hour = {"check_id": "api/health", "resolution": HOUR, "bucket": T0 - timedelta(hours=1), "count": 120,
            "failures": 2, "degraded": 0, "latency_count": 120, "latency_sum": 1200.0, "latency_min": 5.0,
            "latency_max": 40.0, "histogram": {"5": 100, "8": 20}}
    minute = {**hour, "resolution": MINUTE, "bucket": T0 - timedelta(minutes=1), "count": 2, "failures": 0,
              "latency_count": 2, "latency_sum": 20.0, "latency_min": 9.0, "latency_max": 11.0,
              "histogram": {"5": 2}}
    with empty.begin() as conn:
        conn.execute(OLD_RESULTS.insert(), old)
        conn.execute(OLD_ROLLUPS.insert(), [hour, minute])

    command.upgrade(cfg, "c17a00000001")
    with Session(empty) as s:
        rows = store.results(s, "api/health", T0, T0 + timedelta(hours=1))[::-1]
        (ping,) = store.results(s, "db/ping", T0, T0 + timedelta(hours=1))
        (h,) = rollups(s, "api/health", HOUR, T0 - timedelta(hours=1), T0)
        (m,) = rollups(s, "api/health", MINUTE, T0 - timedelta(minutes=1), T0)
        samples = AlertEngine(parse_config(CONFIG, "ops.yaml", {}).config).read_samples(
            s, ["api/health"], T0 + timedelta(minutes=2))
    assert [(r.ts, r.status, r.latency_ms, r.message, r.values) for r in rows] == [
        (o["ts"], o["status"], o["latency_ms"], o["message"], o["values"]) for o in old[:4]
    ]
    assert (ping.status, ping.latency_ms, ping.message, ping.values) == ("degraded", None, "", {})
    assert (h.bucket, h.count, h.failures, h.latency_sum, h.latency_min, h.latency_max) == (
        T0 - timedelta(hours=1), 120, 2, 1200.0, 5.0, 40.0)
    assert h.histogram[5] == 100 and h.histogram[8] == 20 and sum(h.histogram) == 120
    assert (m.count, m.latency_min, m.latency_max) == (2, 9.0, 11.0)
    assert [s.latency_ms for s in samples["api/health"]] == [100.0, 101.0, 102.0, 103.0]

    command.downgrade(cfg, BEFORE)
    with empty.connect() as conn:
        back = conn.execute(sa.select(OLD_RESULTS).order_by(OLD_RESULTS.c.check_id, OLD_RESULTS.c.ts)).all()
        rolled = conn.execute(sa.select(OLD_ROLLUPS).order_by(OLD_ROLLUPS.c.resolution)).all()
    assert [tuple(r)[1:] for r in back] == [tuple(o.values()) for o in old]  # (after the id)
    assert [r.histogram for r in rolled] == [{"5": 2}, {"5": 100, "8": 20}]
    assert [(r.count, r.latency_sum) for r in rolled] == [(2, 20.0), (120, 1200.0)]
