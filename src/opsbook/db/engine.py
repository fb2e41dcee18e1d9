"""Creates the engine and session factory for a database URL, with the settings each database needs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_SQLITE = "sqlite:///var/opsbook.db"


def database_url(configured: str | None = None) -> str:
    """OPSBOOK_DATABASE_URL, else the config's database_url, else SQLite under ./var/."""
    url = os.environ.get("OPSBOOK_DATABASE_URL") or configured or DEFAULT_SQLITE
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def make_sessionmaker(engine: Engine, info: dict[str, Any] | None = None) -> sessionmaker[Session]:
    """Sessions that carry this process's event bus and change feed (see opsbook.events): new ones, or
    those in `info` (a second pool of the same process shares them)."""
    from opsbook.events import BUS_KEY, EventBus
    from opsbook.events.feed import FEED_KEY, ChangeFeed

    sessions = sessionmaker(engine, expire_on_commit=False)
    if info is None:
        bus = EventBus()
        info = {BUS_KEY: bus, FEED_KEY: ChangeFeed(sessions, bus)}
    sessions.configure(info=info)
    return sessions
