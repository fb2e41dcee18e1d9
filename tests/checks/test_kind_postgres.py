"""The `postgres` check kind against the throwaway PostgreSQL server."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from pydantic import ValidationError

from opsbook.checks.kinds.postgres import PostgresCheck, libpq_dsn
from opsbook.checks.kinds.probes.postgres import probe
from opsbook.checks.result import Status
from opsbook.checks.spec import RunContext
from opsbook.clock import SystemClock
from tests.support import free_port

CTX = RunContext(clock=SystemClock())


def check(dsn: str, **fields: Any) -> PostgresCheck:
    return PostgresCheck.model_validate({"kind": "postgres", "name": "db", "dsn": dsn, **fields})


@pytest.fixture(scope="module")
def dsn(pg_url: str) -> str:
    return libpq_dsn(pg_url)


def with_db(dsn: str, dbname: str) -> str:
    return dsn.rsplit("/", 1)[0] + "/" + dbname


@pytest.fixture(scope="module")
def password_user(dsn: str) -> Iterator[tuple[str, str]]:
    """A role that must log in with a password over 127.0.0.1 (scram-sha-256), on the real server.

    The test server trusts everyone, so one pg_hba.conf line for this role alone is prepended and the
    configuration reloaded; both are undone afterwards.
    """
    role, password = f"opsbook_pw_{uuid.uuid4().hex[:8]}", f"Right-{uuid.uuid4().hex}"
    with psycopg.connect(dsn, autocommit=True) as admin:
        row = admin.execute("SHOW hba_file").fetchone()
        assert row is not None
        hba = Path(row[0])
        if not os.access(hba, os.W_OK):
            pytest.skip("pg_hba.conf of the test server is not writable here")
        admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        original = hba.read_text()
        hba.write_text(f"host all {role} 127.0.0.1/32 scram-sha-256\n{original}")
        admin.execute("SELECT pg_reload_conf()")
        try:
            _wait_until_password_required(dsn, role)
            yield role, password
        finally:
            hba.write_text(original)
            admin.execute("SELECT pg_reload_conf()")
            admin.execute(f"DROP ROLE {role}")


def _wait_until_password_required(dsn: str, role: str) -> None:
    import time

    parts = urlsplit(dsn)
    probe = f"postgresql://{role}:not-it@{parts.hostname}:{parts.port}/postgres"
    for _ in range(200):
        try:
            psycopg.connect(probe, connect_timeout=2).close()
        except psycopg.OperationalError:
            return
        time.sleep(0.025)  # the postmaster reloads pg_hba.conf asynchronously
    pytest.fail("the server never started asking for the password")


async def test_select_1_is_up_with_latency(dsn: str) -> None:
    result = await probe(check(dsn), CTX)
    assert result.status is Status.UP, result.message
    assert result.latency_ms is not None and result.latency_ms > 0
    assert dict(result.values) == {"value": 1.0}  # SELECT 1's single number, like any query's


async def test_sqlalchemy_url_is_accepted(pg_url: str) -> None:
    assert pg_url.startswith("postgresql+psycopg://")
    result = await probe(check(pg_url), CTX)
    assert result.status is Status.UP, result.message


async def test_single_numeric_value_is_recorded(dsn: str) -> None:
    result = await probe(check(dsn, query="SELECT 40 + 2"), CTX)
    assert result.status is Status.UP
    assert result.values == {"value": 42.0}
    assert "value 42" in result.message

    result = await probe(check(dsn, query="SELECT 2.5::numeric"), CTX)
    assert result.values == {"value": 2.5}


async def test_non_numeric_or_multi_value_results_record_nothing(dsn: str) -> None:
    for query in ("SELECT 'hello'", "SELECT 1, 2", "SELECT generate_series(1, 3)", "SELECT true"):
        result = await probe(check(dsn, query=query), CTX)
        assert result.status is Status.UP, query
        assert dict(result.values) == {}, query


async def test_failing_query_is_down_with_the_server_reason(dsn: str) -> None:
    result = await probe(check(dsn, query="SELECT * FROM no_such_table"), CTX)
    assert result.status is Status.DOWN
    assert 'relation "no_such_table" does not exist' in result.message


async def test_refused_port_is_down(dsn: str) -> None:
    port = free_port()
    result = await probe(check(f"postgresql://postgres:Pw-Secret-123@127.0.0.1:{port}/postgres"), CTX)
    assert result.status is Status.DOWN
    assert "refused" in result.message.lower()
    assert "Pw-Secret-123" not in result.message
    assert "\n" not in result.message


async def test_wrong_database_is_down_without_the_password(dsn: str) -> None:
    parts = urlsplit(dsn)
    bad = f"postgresql://postgres:Pw-Secret-456@{parts.hostname}:{parts.port}/no_such_db"
    result = await probe(check(bad), CTX)
    assert result.status is Status.DOWN
    assert 'database "no_such_db" does not exist' in result.message
    assert "Pw-Secret-456" not in result.message


async def test_password_is_used_and_a_wrong_one_is_never_shown(
    dsn: str, password_user: tuple[str, str]
) -> None:
    role, password = password_user
    parts = urlsplit(dsn)
    base = f"{parts.hostname}:{parts.port}/postgres"

    good = await probe(check(f"postgresql://{role}:{password}@{base}"), CTX)
    assert good.status is Status.UP, good.message

    wrong = "Wrong-Password-789"
    bad = check(f"postgresql://{role}:{wrong}@{base}")
    result = await probe(bad, CTX)
    assert result.status is Status.DOWN
    assert "password authentication failed" in result.message
    assert wrong not in result.message
    assert wrong not in bad.target()
    assert wrong in bad.secrets()

    # key=value form too
    kv = check(f"host={parts.hostname} port={parts.port} dbname=postgres user={role} password={wrong}")
    result = await probe(kv, CTX)
    assert result.status is Status.DOWN
    assert "password authentication failed" in result.message
    assert wrong not in result.message and wrong not in kv.target()


async def test_connections_measurement(dsn: str) -> None:
    result = await probe(check(dsn, measure=["connections"]), CTX)
    assert result.status is Status.UP
    used, most = result.values["connections_used"], result.values["connections_max"]
    assert used >= 1  # at least the check's own connection
    assert most >= used
    assert result.values["connections_pct"] == pytest.approx(used / most * 100, abs=0.01)
    assert "connections in use" in result.message


async def test_long_queries_measurement_sees_a_running_query(dsn: str) -> None:
    marker = f"opsbook_long_{uuid.uuid4().hex[:8]}"
    sleeper = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
    try:
        task = asyncio.create_task(sleeper.execute(f"SELECT pg_sleep(30) /* {marker} */"))
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as watcher:
            for _ in range(400):  # until the server shows it as active for longer than the threshold
                cur = await watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE %s "
                    "AND clock_timestamp() - query_start > interval '20 milliseconds'",
                    (f"%{marker}%",),
                )
                row = await cur.fetchone()
                if row and row[0]:
                    break
                await asyncio.sleep(0.01)
            else:
                pytest.fail("the long query never showed up in pg_stat_activity")
        result = await probe(check(dsn, measure=["long_queries"], long_query_threshold="10ms"), CTX)
        assert result.status is Status.UP
        assert result.values["long_queries"] >= 1
        assert result.values["longest_query_s"] > 0
        assert "long-running queries" in result.message
    finally:
        await sleeper.cancel_safe()
        with pytest.raises(psycopg.errors.QueryCanceled):
            await task
        await sleeper.close()


async def test_long_queries_threshold_excludes_short_ones(dsn: str) -> None:
    # With an hour's threshold nothing in a test server qualifies (and the check's own query never does).
    result = await probe(check(dsn, measure=["long_queries"], long_query_threshold="1h"), CTX)
    assert result.values["long_queries"] == 0


async def test_timeout_is_down_and_the_query_is_cancelled_on_the_server(dsn: str) -> None:
    marker = f"opsbook_to_{uuid.uuid4().hex[:8]}"
    result = await probe(check(dsn, query=f"SELECT pg_sleep(30) /* {marker} */", timeout="0.3s"), CTX)
    assert result.status is Status.DOWN
    assert result.message.startswith("timed out after 300ms: no answer from postgresql://")
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as watcher:
        for _ in range(200):
            cur = await watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE %s "
                "AND pid <> pg_backend_pid()",
                (f"%{marker}%",),
            )
            row = await cur.fetchone()
            if row and row[0] == 0:
                break
            await asyncio.sleep(0.01)
        else:
            pytest.fail("the timed-out query is still running on the server")


def test_target_and_secrets() -> None:
    c = check("postgresql+psycopg://app:p%40ss-word@db.internal:6543/main")
    assert c.target() == "postgresql://app@db.internal:6543/main"
    assert "p@ss-word" in c.secrets()
    assert "p%40ss-word" in c.secrets()


def test_invalid_dsn_is_a_config_error_without_the_password() -> None:
    with pytest.raises(ValidationError) as info:
        check("host=db password=Very-Secret-1 this is not valid")
    text = "\n".join(str(e["msg"]) for e in info.value.errors())
    assert "not a valid PostgreSQL connection string" in text
    assert "Very-Secret-1" not in text


def test_schema_documents_the_fields() -> None:
    props = PostgresCheck.model_json_schema()["properties"]
    for field in ("dsn", "query", "measure", "long_query_threshold"):
        assert props[field].get("description"), field
