"""How a process learns of changes other processes committed (a CLI command, another `serve`).

Every transaction that emits events bumps its topics' rows in `change_counters`. The `ChangeFeed` of a
process remembers the versions it has seen; `sync()` reads the rows (one small query) and publishes a
`RemoteChange(topic)` on the process's bus for every topic whose version moved without this process
committing it. `serve` calls it:

- when PostgreSQL says so (`LISTEN opsbook_changes`; the NOTIFY travels with the commit), else on a
  short timer (SQLite, or PostgreSQL as a fallback): `watch_step`;
- and before a reader is given something built from the store that must not be older than the last
  committed change (`refresh()`: the status page). Concurrent callers share one query, and a caller
  only ever joins a query that started after it arrived, so no reader sees a change missed.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from opsbook.clock import Clock
from opsbook.events import NOTIFY_CHANNEL, EventBus, RemoteChange, Topic
from opsbook.events.models import ChangeCounterRow

log = logging.getLogger(__name__)

FEED_KEY = "opsbook.feed"
POLL_EVERY = timedelta(seconds=1)


def feed_of(session: Session) -> ChangeFeed | None:
    feed = session.info.get(FEED_KEY)
    return feed if isinstance(feed, ChangeFeed) else None


def _topic(value: str) -> Topic | None:
    try:
        return Topic(value)
    except ValueError:
        return None  # a topic of a newer version of opsbook: nothing here subscribes to it


class ChangeFeed:
    def __init__(self, sessions: sessionmaker[Session], bus: EventBus) -> None:
        self.sessions = sessions
        self.bus = bus
        self.known: dict[Topic, int] = {}
        self.primed = False
        self._lock = threading.Lock()
        self._waiters: list[asyncio.Future[None]] = []
        self._reader: asyncio.Task[None] | None = None
        self._failing = False

    # --- what changed ------------------------------------------------------------------------------

    def committed_here(self, versions: Mapping[Topic, int]) -> None:
        """This process committed these versions; a gap means another process committed meanwhile."""
        remote: list[Topic] = []
        with self._lock:
            for topic, version in versions.items():
                before = self.known.get(topic, 0)  # once primed, a topic never seen is at 0
                if self.primed and version > before + 1:
                    remote.append(topic)
                self.known[topic] = max(before, version)
        if remote:
            self.bus.publish([RemoteChange(t) for t in remote])

    def read(self) -> dict[Topic, int]:
        with self.sessions() as session:
            rows = session.execute(select(ChangeCounterRow.topic, ChangeCounterRow.version)).all()
        out: dict[Topic, int] = {}
        for name, version in rows:
            topic = _topic(name)
            if topic is not None:
                out[topic] = int(version)
        return out

    def apply(self, versions: Mapping[Topic, int]) -> list[Topic]:
        """Remember `versions`; publish and return the topics that moved since last seen."""
        changed: list[Topic] = []
        with self._lock:
            for topic, version in versions.items():
                if version > self.known.get(topic, 0):
                    if self.primed:
                        changed.append(topic)
                    self.known[topic] = version
            self.primed = True
        if changed:
            self.bus.publish([RemoteChange(t) for t in changed])
        return changed

    def sync(self) -> list[Topic]:
        """Read the counters now and publish what other processes changed (blocking)."""
        return self.apply(self.read())

    # --- for readers --------------------------------------------------------------------------------

    async def refresh(self) -> None:
        """Return once a read of the counters that started after this call has been applied.

        If the database cannot be read, return anyway (the reader is served what it has) and log once.
        """
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._drain())
        await fut

    async def _drain(self) -> None:
        while self._waiters:
            batch, self._waiters = self._waiters, []
            try:
                await asyncio.to_thread(self.sync)
                if self._failing:
                    log.info("reading change counters works again")
                self._failing = False
            except Exception as exc:
                if not self._failing:
                    log.warning("cannot read change counters (%s); serving what is cached",
                                type(exc).__name__)
                self._failing = True
            for fut in batch:
                if not fut.done():
                    fut.set_result(None)

    # --- watching ---------------------------------------------------------------------------------

    async def watch_step(self, clock: Clock) -> datetime | None:
        """One round of the feed's loop: on PostgreSQL wait for a NOTIFY (or the poll interval), on
        SQLite just read; returns when to look again."""
        if self.sessions.kw["bind"].dialect.name == "postgresql":
            await self._listen(clock)
            return None
        await asyncio.to_thread(self.sync)
        return clock.now() + POLL_EVERY

    async def _listen(self, clock: Clock) -> None:
        import psycopg

        engine: Any = self.sessions.kw["bind"]
        url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
            await asyncio.to_thread(self.sync)  # what changed before we listened
            while True:  # one read per notification or per quiet interval (a fallback for lost ones)
                async for _note in conn.notifies(timeout=POLL_EVERY.total_seconds() * 5, stop_after=1):
                    pass
                await asyncio.to_thread(self.sync)
