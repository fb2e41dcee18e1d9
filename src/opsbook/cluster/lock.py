"""Singleton duties held through PostgreSQL session advisory locks: one process runs each, another takes
it over when the holder dies (its locks die with its database session).

`DutyLocks` keeps one dedicated connection per process (outside the pool, in autocommit) on which it takes
`pg_try_advisory_lock(key)` for each duty it runs; `guard(loop)` makes a supervised `Loop` run its round
only while this process holds the duty's lock. A process that does not hold it tries again every `retry`
(and whenever the loop is woken), so a dead holder's duty moves within `retry` of its session ending.
Each round first proves the lock connection alive (the query that takes or confirms the lock), so a
holder whose session was killed stops at its next round.

On SQLite there is one process: `guard` leaves the loop as it is and every duty simply runs.

    locks = DutyLocks(runtime.engine, runtime.clock)
    locks.guard(escalation.loop)   # escalation ticks run in one process of the cluster
    ...; locks.close()             # releases every duty at once
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import threading
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from opsbook.clock import Clock
from opsbook.loops import Loop, Step

log = logging.getLogger(__name__)

RETRY = timedelta(seconds=5)
"""How often a process that does not hold a duty tries to take it (the takeover time after a death)."""
NAMESPACE = "opsbook duty:"


def lock_key(duty: str) -> int:
    """The advisory lock key of a duty: a stable signed 64-bit number from its name."""
    digest = hashlib.blake2b((NAMESPACE + duty).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class DutyLocks:
    """The singleton duties this process holds, on one connection of its own (thread-safe)."""

    def __init__(self, engine: Engine, clock: Clock, retry: timedelta = RETRY) -> None:
        self.engine = engine
        self.clock = clock
        self.retry = retry
        self.shared = engine.dialect.name == "postgresql"
        self._conn: Connection | None = None
        self._held: set[str] = set()
        self._guarded: set[int] = set()
        self._mutex = threading.Lock()

    @property
    def held(self) -> frozenset[str]:
        """The duties this process held at its last look."""
        with self._mutex:
            return frozenset(self._held)

    def session_pid(self) -> int | None:
        """The server process id of the session holding this process's duties (None before the first)."""
        with self._mutex:
            if self._conn is None:
                return None
            return int(self._conn.scalar(text("SELECT pg_backend_pid()")) or 0)

    def holds(self, duty: str) -> bool:
        """Whether this process holds `duty` now, taking it if it is free (blocking: run in a thread).

        Always true on SQLite. A lost connection loses every duty; one fresh connection is tried at once."""
        if not self.shared:
            return True
        with self._mutex:
            for attempt in (1, 2):
                try:
                    return self._take(duty)
                except DBAPIError as exc:
                    self._drop()
                    if attempt == 2:
                        log.warning("cannot reach the database to hold %s: %s", duty, type(exc).__name__)
            return False

    def _take(self, duty: str) -> bool:
        conn = self._connection()
        if duty in self._held:
            conn.execute(text("SELECT 1"))  # a killed session fails here: its locks are gone
            return True
        taken = bool(conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": lock_key(duty)}))
        if taken:
            log.info("this process now runs the %s duty", duty)
            self._held.add(duty)
        return taken

    def _connection(self) -> Connection:
        if self._conn is None:
            self._conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self._conn

    def _drop(self) -> None:
        if self._held:
            log.warning("lost the database session holding %s", ", ".join(sorted(self._held)))
        self._held.clear()
        conn, self._conn = self._conn, None
        _end_session(conn)

    def close(self) -> None:
        """Release every duty (ending the session that holds them)."""
        with self._mutex:
            self._held.clear()
            conn, self._conn = self._conn, None
            if conn is not None:
                with contextlib.suppress(DBAPIError):  # a session already gone holds nothing
                    conn.execute(text("SELECT pg_advisory_unlock_all()"))
        _end_session(conn)

    def gate(self, duty: str, step: Step) -> Step:
        """`step` run only while this process holds `duty`; otherwise the round asks to come back later."""

        async def gated() -> datetime | None:
            if not await asyncio.to_thread(self.holds, duty):
                return self.clock.now() + self.retry
            return await step()

        return gated

    def guard(self, loop: Loop) -> Loop:
        """Make `loop` a singleton duty named after it (once; nothing changes on SQLite)."""
        if self.shared and id(loop) not in self._guarded:
            self._guarded.add(id(loop))
            loop.step = self.gate(loop.name, loop.step)
        return loop


def _end_session(conn: Connection | None) -> None:
    """Close the lock connection for real (back in the pool it would keep its session and its locks)."""
    if conn is None:
        return
    try:
        conn.invalidate()
        conn.close()
    except DBAPIError:
        log.debug("closing a broken lock connection failed", exc_info=True)
