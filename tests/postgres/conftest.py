"""A database in trouble, on the throwaway PostgreSQL server: the report's and the rules' subject.

- `bloated`: 2,000 rows updated three times with autovacuum off (75 % dead tuples);
- `orders`: 20,000 rows, `orders_customer` (used by the hot query), `orders_customer_again` (a duplicate of
  it) and `orders_note` (never used);
- `events`: 20,000 rows read only by sequential scans (no index on `kind`);
- a hot query: `SELECT count(*) FROM orders WHERE customer = $1` 300 times;
- a reporting job's `SELECT pg_sleep(60)` running past the 1 s threshold;
- a session holding a lock on `orders` in an open transaction, and an UPDATE blocked behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from opsbook.checks.kinds.postgres import libpq_dsn

JOB = "reporting-job"
HOT = "SELECT count(*) FROM orders WHERE customer = %s"


@dataclass
class Troubled:
    dsn: str
    dbname: str


def _with_db(dsn: str, dbname: str) -> str:
    return dsn.rsplit("/", 1)[0] + "/" + dbname


@pytest.fixture(scope="module")
def troubled_db(pg_url: str) -> Iterator[Troubled]:
    """The tables, indexes and statistics of the scenario (the sessions are `trouble` below)."""
    admin_dsn = libpq_dsn(pg_url)
    name = f"pgcap_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    dsn = _with_db(admin_dsn, name)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        conn.execute("CREATE TABLE bloated (id int PRIMARY KEY, v text) WITH (autovacuum_enabled = false)")
        conn.execute("INSERT INTO bloated SELECT g, 'x' FROM generate_series(1, 2000) g")
        for i in range(3):
            conn.execute("UPDATE bloated SET v = %s", (f"v{i}",))
        conn.execute("CREATE TABLE orders (id int PRIMARY KEY, customer int, note text) "
                     "WITH (autovacuum_enabled = false)")
        conn.execute("INSERT INTO orders SELECT g, g % 500, 'n' || g FROM generate_series(1, 20000) g")
        conn.execute("CREATE INDEX orders_customer ON orders (customer)")
        conn.execute("CREATE INDEX orders_customer_again ON orders (customer)")
        conn.execute("CREATE INDEX orders_note ON orders (note)")
        conn.execute("CREATE TABLE events (id int, kind text) WITH (autovacuum_enabled = false)")
        conn.execute("INSERT INTO events SELECT g, 'k' || (g % 7) FROM generate_series(1, 20000) g")
        conn.execute("ANALYZE orders")
        conn.execute("ANALYZE events")
        conn.execute("SELECT pg_stat_statements_reset()")
        for i in range(300):
            conn.execute(HOT, (i % 500,))
        for _ in range(5):
            conn.execute("SELECT count(*) FROM events WHERE kind = 'k3'")
        conn.execute("SELECT pg_stat_force_next_flush()")
        conn.execute("SELECT 1")
    yield Troubled(dsn, name)
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


class Sessions:
    """The reporting job's sleeping query, a lock holder and a blocked UPDATE, on real connections."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.conns: list[psycopg.AsyncConnection[Any]] = []
        self.tasks: list[asyncio.Task[Any]] = []

    async def _connect(self, app: str, autocommit: bool = True) -> psycopg.AsyncConnection[Any]:
        conn = await psycopg.AsyncConnection.connect(self.dsn, autocommit=autocommit, application_name=app)
        self.conns.append(conn)
        return conn

    async def start(self) -> None:
        sleeper = await self._connect(JOB)
        self.tasks.append(asyncio.create_task(self._quietly(sleeper.execute("SELECT pg_sleep(60)"))))
        holder = await self._connect("migration", autocommit=False)
        await holder.execute("UPDATE orders SET note = 'held' WHERE id = 1")  # the row lock stays held
        waiter = await self._connect("api")
        self.tasks.append(asyncio.create_task(
            self._quietly(waiter.execute("UPDATE orders SET note = 'waiting' WHERE id = 1"))
        ))
        await self._until_stuck()

    async def _until_stuck(self) -> None:
        """Until PostgreSQL shows the sleep past 1 s and the UPDATE waiting (real time, bounded)."""
        deadline = time.monotonic() + 20
        async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
            while time.monotonic() < deadline:
                cur = await conn.execute(
                    "SELECT (SELECT count(*) FROM pg_stat_activity"
                    " WHERE application_name = %s AND state = 'active'"
                    " AND clock_timestamp() - query_start > interval '1.2 seconds'),"
                    " (SELECT count(*) FROM pg_stat_activity WHERE cardinality(pg_blocking_pids(pid)) > 0)",
                    (JOB,),
                )
                row = await cur.fetchone()
                if row and row[0] >= 1 and row[1] >= 1:
                    return
                await asyncio.sleep(0.05)
        raise AssertionError("the sleeping query and the blocked update did not show up")

    @staticmethod
    async def _quietly(work: Any) -> None:
        with contextlib.suppress(psycopg.Error):  # terminated when the scenario ends
            await work

    async def stop(self) -> None:
        async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        for task in self.tasks:
            await task
        for conn in self.conns:
            await conn.close()


@pytest.fixture
async def trouble(troubled_db: Troubled) -> AsyncIterator[Troubled]:
    sessions = Sessions(troubled_db.dsn)
    await sessions.start()
    try:
        yield troubled_db
    finally:
        await sessions.stop()
