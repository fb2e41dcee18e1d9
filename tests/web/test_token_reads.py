"""A token-authenticated read writes nothing: the token's last use is recorded at most once a minute, and a
database that refuses writes (read-only SQLite file, read-only PostgreSQL) still answers the read."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import Engine, create_engine, select, text

from opsbook.auth.models import ApiTokenRow
from opsbook.auth.roles import Role
from opsbook.auth.tokens import create_token
from opsbook.clock import FakeClock
from opsbook.db.engine import make_engine
from opsbook.db.migrate import upgrade
from opsbook.runtime import Runtime
from opsbook.web.app import create_app
from tests.conftest import fresh_pg_database
from tests.support import make_runtime, writes_to

CONFIG = "services: []\n"


def _token(runtime: Runtime) -> str:
    with runtime.sessions.begin() as session:
        return create_token(session, "grafana", Role.VIEWER, runtime.clock.now())


def _last_used(runtime: Runtime) -> object:
    with runtime.sessions() as session:
        return session.scalar(select(ApiTokenRow.last_used_at))


async def test_last_use_is_recorded_at_most_once_a_minute(engine: Engine) -> None:
    clock = FakeClock()
    runtime = make_runtime(engine, clock, CONFIG)
    headers = {"Authorization": f"Bearer {_token(runtime)}"}
    app = create_app(runtime, run_pipeline=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as http:
        first = clock.now()
        assert (await http.get("/api/v1/checks", headers=headers)).status_code == 200
        assert _last_used(runtime) == first

        await clock.advance(timedelta(seconds=59))
        with writes_to(engine) as writes:
            for _ in range(3):
                assert (await http.get("/api/v1/checks", headers=headers)).status_code == 200
        assert writes == []  # a read is a read
        assert _last_used(runtime) == first

        await clock.advance(timedelta(seconds=1))
        assert (await http.get("/api/v1/checks", headers=headers)).status_code == 200
        assert _last_used(runtime) == clock.now()
        unknown = await http.get("/api/v1/checks", headers={"Authorization": "Bearer opsb_nope"})
        assert unknown.status_code == 401


async def _reads_answer(runtime: Runtime, token: str) -> None:
    app = create_app(runtime, run_pipeline=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as http:
        for _ in range(2):
            res = await http.get("/api/v1/checks", headers={"Authorization": f"Bearer {token}"})
            assert res.status_code == 200, res.text
            assert res.json() == []


async def test_reads_answer_while_sqlite_refuses_writes(tmp_path: Path) -> None:
    path = tmp_path / "opsbook.db"
    writable = make_engine(f"sqlite:///{path}")
    upgrade(writable)
    clock = FakeClock()
    token = _token(make_runtime(writable, clock, CONFIG))
    writable.dispose()

    read_only = make_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    runtime = make_runtime(read_only, clock, CONFIG)
    with read_only.connect() as conn:  # the database really refuses writes
        try:
            conn.execute(text("UPDATE api_tokens SET last_used_at = NULL"))
        except Exception as exc:
            assert "readonly" in str(exc)
        else:
            raise AssertionError("the read-only connection accepted a write")
    await _reads_answer(runtime, token)
    assert _last_used(runtime) is None
    read_only.dispose()


async def test_reads_answer_while_postgresql_refuses_writes(pg_url: str, pg_template: str) -> None:
    url = fresh_pg_database(pg_url, pg_template)
    name = url.rsplit("/", 1)[1]
    engine = make_engine(url)
    runtime = make_runtime(engine, FakeClock(), CONFIG)
    token = _token(runtime)
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))
    engine.dispose()  # new connections are read-only
    try:
        await _reads_answer(runtime, token)
        assert _last_used(runtime) is None
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = off'))
        engine.dispose()
        admin.dispose()
