"""/health, /ready and /metrics tell the truth while the database refuses writes or is gone, and while a
loop keeps failing."""

from __future__ import annotations

import httpx
from sqlalchemy import create_engine, text

from opsbook.clock import FakeClock
from opsbook.db.engine import make_engine
from opsbook.loops import Loop
from opsbook.pipeline import Pipeline
from opsbook.web.app import create_app
from tests.conftest import fresh_pg_database
from tests.support import make_runtime


async def test_read_only_then_gone_database(pg_url: str, pg_template: str) -> None:
    url = fresh_pg_database(pg_url, pg_template)
    name = url.rsplit("/", 1)[1]
    engine = make_engine(url)
    runtime = make_runtime(engine, FakeClock(), "server: {public_metrics: true}\nservices: []\n")
    pipeline = Pipeline(runtime)
    app = create_app(runtime, pipeline=pipeline, run_pipeline=False)
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    kick = text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n AND pid <> "
                "pg_backend_pid()")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as http:
        assert (await http.get("/ready")).status_code == 200
        assert "opsbook_database_up 1.0" in (await http.get("/metrics")).text

        with admin.connect() as conn:  # reads work, writes are refused
            conn.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))
            conn.execute(kick, {"n": name})
        engine.dispose()
        ready = await http.get("/ready")
        assert ready.status_code == 503 and "read-only" in ready.json()["database"]
        assert (await http.get("/health")).status_code == 200  # the process itself is fine
        metrics = await http.get("/metrics")
        assert metrics.status_code == 200 and "opsbook_database_up 1.0" in metrics.text

        with admin.connect() as conn:  # gone
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            conn.execute(kick, {"n": name})
        engine.dispose()
        metrics = await http.get("/metrics")
        assert metrics.status_code == 200
        assert "opsbook_database_up 0.0" in metrics.text
        assert (await http.get("/ready")).status_code == 503
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
            conn.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = off'))
        engine.dispose()
        assert (await http.get("/ready")).status_code == 200
    engine.dispose()
    admin.dispose()


async def test_a_failing_loop_turns_health_down_until_it_works(sqlite_engine: object) -> None:
    clock = FakeClock()
    runtime = make_runtime(sqlite_engine, clock, "server: {public_metrics: true}\n")  # type: ignore[arg-type]
    pipeline = Pipeline(runtime)
    app = create_app(runtime, pipeline=pipeline, run_pipeline=True)
    broken = [True]

    async def step() -> None:
        if broken[0]:
            raise ZeroDivisionError("interval is zero")

    loop = Loop("scheduler", step, clock, supervisor=pipeline.supervisor)
    await loop.run_round()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as http:
        health = await http.get("/health")
        assert health.status_code == 503
        assert "ZeroDivisionError: interval is zero" in health.json()["loops"]["scheduler"]["error"]
        assert 'opsbook_loop_up{loop="scheduler"} 0.0' in (await http.get("/metrics")).text
        broken[0] = False
        await loop.run_round()
        assert (await http.get("/health")).status_code == 200
