"""Migration c11a00000001 clears the acknowledgement that resolving used to stamp on an incident nobody
acknowledged (acknowledged at its resolution, no "acknowledged" timeline entry), and keeps real ones."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from opsbook.db.base import UtcDateTime
from opsbook.db.engine import make_engine
from opsbook.db.migrate import upgrade

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
INCIDENTS = sa.table(
    "incidents", sa.column("id", sa.Integer), sa.column("title", sa.Text), sa.column("severity", sa.String),
    sa.column("status", sa.String), sa.column("services", sa.JSON), sa.column("summary", sa.Text),
    sa.column("impact", sa.Text), sa.column("eta", sa.String), sa.column("customer_facing", sa.Boolean),
    sa.column("responders", sa.JSON), sa.column("source", sa.String), sa.column("opened_by", sa.String),
    sa.column("opened_at", UtcDateTime), sa.column("acknowledged_at", UtcDateTime),
    sa.column("acknowledged_by", sa.String), sa.column("resolved_at", UtcDateTime),
    sa.column("resolved_by", sa.String), sa.column("updated_at", UtcDateTime),
)
TIMELINE = sa.table(
    "incident_timeline", sa.column("incident_id", sa.Integer), sa.column("ts", UtcDateTime),
    sa.column("kind", sa.String), sa.column("actor", sa.String), sa.column("message", sa.Text),
    sa.column("detail", sa.JSON),
)


def _incident(n: int, acked: datetime | None, resolved: datetime) -> dict[str, object]:
    return {"id": n, "title": f"incident {n}", "severity": "P2", "status": "resolved", "services": [],
            "summary": "", "impact": "", "eta": "", "customer_facing": False, "responders": [],
            "source": "rule", "opened_by": "opsbook", "opened_at": T0, "acknowledged_at": acked,
            "acknowledged_by": "ben", "resolved_at": resolved, "resolved_by": "ben", "updated_at": resolved}


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database (no migration run yet), on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/old.db"
    pg_url: str = request.getfixturevalue("pg_url")
    name = f"opsbook_m_{uuid.uuid4().hex[:12]}"
    with sa.create_engine(pg_url, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    return pg_url.rsplit("/", 1)[0] + "/" + name


def test_the_ack_stamped_by_a_resolve_is_cleared(empty_url: str) -> None:
    engine = make_engine(empty_url)
    upgrade(engine, "b7d2f4a91c3e")  # the revision before issue 11's
    done = T0 + timedelta(minutes=30)
    with engine.begin() as conn:
        conn.execute(sa.insert(INCIDENTS), [
            _incident(1, done, done),  # resolved unacknowledged: the old code stamped the ack at resolve
            _incident(2, T0 + timedelta(minutes=4), done),  # acknowledged for real
            _incident(3, done, done),  # acknowledged and resolved at the same instant, for real
        ])
        conn.execute(sa.insert(TIMELINE), [
            {"incident_id": 2, "ts": T0 + timedelta(minutes=4), "kind": "acknowledged", "actor": "ben",
             "message": "Acknowledged by ben", "detail": {}},
            {"incident_id": 3, "ts": done, "kind": "acknowledged", "actor": "ben", "message": "Acknowledged",
             "detail": {}},
        ])
    upgrade(engine)
    with engine.connect() as conn:
        columns = (INCIDENTS.c.id, INCIDENTS.c.acknowledged_at, INCIDENTS.c.acknowledged_by)
        rows = conn.execute(sa.select(*columns).order_by(INCIDENTS.c.id)).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [
        (1, None, None), (2, T0 + timedelta(minutes=4), "ben"), (3, done, "ben")]
