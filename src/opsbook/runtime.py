"""What a running opsbook is made of: the loaded config, the store and the clock, opened in one place.

The CLI commands and `opsbook serve` both start from `open_runtime`, so they agree on which config
file and which database they use (OPSBOOK_CONFIG / OPSBOOK_DATABASE_URL win over defaults).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path as FsPath

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from opsbook.clock import Clock, SystemClock
from opsbook.config.loader import LoadedConfig, config_path, load_config
from opsbook.config.schema import OpsbookConfig
from opsbook.db.engine import database_exists, database_url, make_engine, make_sessionmaker, sqlite_path
from opsbook.db.revision import at_head
from opsbook.errors import NotFound
from opsbook.events import BUS_KEY, EventBus
from opsbook.events.feed import FEED_KEY, ChangeFeed
from opsbook.redact import Redactor


@dataclass
class Runtime:
    loaded: LoadedConfig
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock = field(default_factory=SystemClock)
    made_database: bool = False
    """Whether opening it made a new, empty database (none was where the config leads)."""
    _redactor: Redactor | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def config(self) -> OpsbookConfig:
        return self.loaded.config

    @property
    def bus(self) -> EventBus:
        """This process's domain-event bus (committed events are published on it)."""
        bus = self.sessions.kw.get("info", {}).get(BUS_KEY)
        if not isinstance(bus, EventBus):
            raise RuntimeError("sessions made without opsbook.db.engine.make_sessionmaker have no bus")
        return bus

    @property
    def feed(self) -> ChangeFeed:
        """Learns of changes other processes committed (see opsbook.events.feed)."""
        feed = self.sessions.kw.get("info", {}).get(FEED_KEY)
        if not isinstance(feed, ChangeFeed):
            raise RuntimeError("sessions made without opsbook.db.engine.make_sessionmaker have no feed")
        return feed

    def with_own_pool(self) -> Runtime:
        """The same runtime on a connection pool of its own (same bus and feed): the pipeline's, so API
        readers holding connections never make the result writer or the escalation wait."""
        engine = make_engine(self.engine.url.render_as_string(hide_password=False))
        sessions = make_sessionmaker(engine, info=self.sessions.kw.get("info"))
        return replace(self, engine=engine, sessions=sessions)

    def redact(self, text: str) -> str:
        """Mask every secret this configuration knows of, plus DSN passwords and URL tokens."""
        if self._redactor is None:
            self._redactor = Redactor(self.loaded.all_secrets())
        return self._redactor(text)

    def close(self) -> None:
        self.engine.dispose()


class NoDatabase(NotFound):
    """A command that only reads found no database where the config leads (it would show "no data")."""


def open_runtime(
    path: str | None = None,
    *,
    clock: Clock | None = None,
    migrate: bool = True,
    db_url: str | None = None,
    create: bool = True,
    cached: bool = False,
) -> Runtime:
    """Load and validate the config (raising ConfigError), open the database and migrate it to head.

    A relative SQLite path is relative to the config file's folder. With `create=False` (a command that
    only reads) a database that does not exist yet is not made: NoDatabase says where it was looked for.
    With `cached`, an unchanged config is served validated from opsbook.config.cache (the CLI's)."""
    loaded = load_config(config_path(path), cached=cached)
    engine = make_engine(
        db_url or database_url(loaded.config.database_url, FsPath(loaded.path).resolve().parent)
    )
    existed = database_exists(engine)
    if not create and not existed:
        engine.dispose()
        raise NoDatabase(
            f"no database at {database_place(engine)}: is this the right config ({loaded.path})? "
            "serve creates it"
        )
    if migrate and not at_head(engine):
        from opsbook.db.migrate import upgrade  # Alembic only when there is something to apply: start-up

        upgrade(engine)
    return Runtime(
        loaded=loaded, engine=engine, sessions=make_sessionmaker(engine), clock=clock or SystemClock(),
        made_database=migrate and not existed,
    )


def database_place(engine: Engine) -> str:
    """Where a database is, for people: a SQLite file's path, else its URL (password hidden)."""
    return str(sqlite_path(engine.url.render_as_string(hide_password=False)) or engine.url)
