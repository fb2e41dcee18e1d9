"""Fixtures of the cluster tests: a fresh PostgreSQL database per test, and a way to end a session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text

from opsbook.db.engine import make_engine
from tests.conftest import fresh_pg_database


@pytest.fixture
def pg_db(pg_url: str, pg_template: str) -> str:
    """A fresh migrated PostgreSQL database (its URL)."""
    return fresh_pg_database(pg_url, pg_template)


@pytest.fixture
def engines(pg_db: str) -> Iterator[list[Engine]]:
    """Two engines on the same database: two processes' own connections."""
    made = [make_engine(pg_db), make_engine(pg_db)]
    yield made
    for engine in made:
        engine.dispose()


def advisory_holders(url: str) -> set[int]:
    """The server process ids of the sessions holding duty locks (advisory locks on one 64-bit key,
    objsubid 1) in the database; evaluations' per-check locks use two keys (objsubid 2) and are not duties."""
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            rows = conn.execute(text(
                "SELECT DISTINCT pid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 AND granted "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ))
            return {int(pid) for (pid,) in rows}
    finally:
        admin.dispose()


def terminate(url: str, pids: set[int]) -> None:
    """End those sessions as a crash or a network cut would, waiting until they are gone."""
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for pid in pids:
                conn.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
    finally:
        admin.dispose()
