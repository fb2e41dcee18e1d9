"""Shared fixtures: a fake clock, throwaway PostgreSQL and Redis, and fresh migrated databases.

`make test` starts the servers and exports OPSBOOK_TEST_PG_URL / OPSBOOK_TEST_REDIS_URL; a bare
`pytest` starts its own through scripts/services.sh and stops them at the end.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from opsbook.clock import FakeClock
from opsbook.db.engine import make_engine
from opsbook.db.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent

# Every `opsbook` a test starts runs in its own process, as the test set it up: no background preloader
# (cli/launch.py) outlives a test or serves one test's command with another's code. tests/cli/test_preload.py
# turns it on for itself.
os.environ["OPSBOOK_PRELOAD"] = "off"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def services() -> Iterator[dict[str, str]]:
    """URLs of the throwaway servers: from the environment, or started here for this session."""
    if os.environ.get("OPSBOOK_TEST_PG_URL") and os.environ.get("OPSBOOK_TEST_REDIS_URL"):
        yield {"pg": os.environ["OPSBOOK_TEST_PG_URL"], "redis": os.environ["OPSBOOK_TEST_REDIS_URL"]}
        return
    state = tempfile.mkdtemp(prefix="opsbook-services-")
    subprocess.run([str(ROOT / "scripts/services.sh"), "start", state], check=True, capture_output=True)
    env: dict[str, str] = {}
    for line in Path(state, "env").read_text().splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = value
    try:
        yield {"pg": env["OPSBOOK_TEST_PG_URL"], "redis": env["OPSBOOK_TEST_REDIS_URL"]}
    finally:
        subprocess.run([str(ROOT / "scripts/services.sh"), "stop", state], check=False, capture_output=True)


@pytest.fixture(scope="session")
def pg_url(services: dict[str, str]) -> str:
    return services["pg"]


@pytest.fixture(scope="session")
def redis_url(services: dict[str, str]) -> str:
    return services["redis"]


def _admin(pg_url: str) -> Engine:
    return create_engine(pg_url, isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def pg_template(pg_url: str) -> Iterator[str]:
    """A PostgreSQL database migrated to head once, cloned for each test that needs a fresh one."""
    name = f"opsbook_tpl_{uuid.uuid4().hex[:10]}"
    admin = _admin(pg_url)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(pg_url.rsplit("/", 1)[0] + "/" + name)
    upgrade(engine)
    engine.dispose()
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def fresh_pg_database(pg_url: str, template: str) -> str:
    name = f"opsbook_t_{uuid.uuid4().hex[:12]}"
    with _admin(pg_url).connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    return pg_url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database migrated to head, once on SQLite and once on PostgreSQL (dropped afterwards, so
    the throwaway cluster stays small for the tests that copy it, e.g. a replica's base backup)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/opsbook.db"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
        return
    pg = request.getfixturevalue("pg_url")
    url = fresh_pg_database(pg, request.getfixturevalue("pg_template"))
    yield url
    with _admin(pg).connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """A migrated SQLite database, for tests whose subject is not the store itself."""
    eng = make_engine(f"sqlite:///{tmp_path}/opsbook.db")
    upgrade(eng)
    yield eng
    eng.dispose()
