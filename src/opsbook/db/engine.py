"""Creates the engine and session factory for a database URL, with the settings each database needs.

Which database: OPSBOOK_DATABASE_URL, else the config's `database_url`, else `sqlite:///var/opsbook.db`.
A relative SQLite path is relative to the folder of the config file, wherever it is written, so every
command and `serve` find the same database from any working directory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from opsbook.events import BUS_KEY, EventBus
from opsbook.events.feed import FEED_KEY, ChangeFeed

DEFAULT_SQLITE = "sqlite:///var/opsbook.db"


def database_url(configured: str | None = None, config_dir: Path | None = None) -> str:
    """OPSBOOK_DATABASE_URL, else the config's database_url, else SQLite under var/; a relative SQLite
    path made absolute from `config_dir`, the config file's folder (left as is without one)."""
    url = os.environ.get("OPSBOOK_DATABASE_URL") or configured or DEFAULT_SQLITE
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    path = sqlite_path(url)
    if config_dir is not None and path is not None and not path.is_absolute():
        absolute = os.path.normpath(config_dir / path)  # `examples/../var/x.db` shown as `var/x.db`
        url = make_url(url).set(database=absolute).render_as_string(hide_password=False)
    return url


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL; None for other databases and for in-memory or `file:` URI ones."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def database_exists(engine: Engine) -> bool:
    """Whether opsbook's database is there already: the SQLite file (looked for without opening it, which
    would make it), or the tables of a server database."""
    url = engine.url.render_as_string(hide_password=False)
    path = sqlite_path(url)
    if path is not None:
        return path.exists()
    if engine.url.get_backend_name() == "sqlite":
        return False  # in memory: new with every connection
    return inspect(engine).has_table("alembic_version")


def make_engine(url: str) -> Engine:
    """An engine for `url`; a SQLite file's folder is made when the first connection opens it."""
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        if path is not None:
            folder = path.parent

            @event.listens_for(engine, "do_connect")
            def _make_folder(_dialect: Any, _record: Any, _args: Any, _params: Any) -> None:
                folder.mkdir(parents=True, exist_ok=True)

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
    sessions = sessionmaker(engine, expire_on_commit=False)
    if info is None:
        bus = EventBus()
        info = {BUS_KEY: bus, FEED_KEY: ChangeFeed(sessions, bus)}
    sessions.configure(info=info)
    return sessions
