"""The `redis` check kind against the throwaway Redis server (which requires a password)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis.asyncio as aioredis
from pydantic import ValidationError

from opsbook.checks.kinds.probes.redis import probe
from opsbook.checks.kinds.redis import RedisCheck
from opsbook.checks.result import Status
from opsbook.checks.spec import RunContext
from opsbook.clock import SystemClock
from tests.support import free_port

CTX = RunContext(clock=SystemClock())
PASSWORD = "opsbook-test"  # the test server's, see scripts/services.sh


def check(url: str, **fields: Any) -> RedisCheck:
    return RedisCheck.model_validate({"kind": "redis", "name": "cache", "url": url, **fields})


def address(redis_url: str) -> str:
    parts = urlsplit(redis_url)
    return f"{parts.hostname}:{parts.port}"


async def test_ping_is_up(redis_url: str) -> None:
    assert PASSWORD in redis_url
    result = await probe(check(redis_url), CTX)
    assert result.status is Status.UP, result.message
    assert result.message == "PONG"
    assert result.latency_ms is not None and result.latency_ms > 0


async def test_password_field(redis_url: str) -> None:
    result = await probe(check(f"redis://{address(redis_url)}/0", password=PASSWORD), CTX)
    assert result.status is Status.UP, result.message


async def test_wrong_password_is_down_and_never_shown(redis_url: str) -> None:
    wrong = "Wrong-Redis-Pass-1"
    for c in (
        check(f"redis://:{wrong}@{address(redis_url)}/0"),
        check(f"redis://{address(redis_url)}/0", password=wrong),
    ):
        result = await probe(c, CTX)
        assert result.status is Status.DOWN
        assert "authentication failed" in result.message
        assert wrong not in result.message
        assert wrong not in c.target()
        assert wrong in c.secrets()


async def test_missing_password_is_down(redis_url: str) -> None:
    result = await probe(check(f"redis://{address(redis_url)}/0"), CTX)
    assert result.status is Status.DOWN
    assert "auth" in result.message.lower()


async def test_refused_port_is_down(redis_url: str) -> None:
    c = check(f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0")
    result = await probe(c, CTX)
    assert result.status is Status.DOWN
    assert "refused" in result.message.lower()
    assert PASSWORD not in result.message


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """Accepts connections and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_silent_server_times_out(silent_server: int) -> None:
    result = await probe(check(f"redis://127.0.0.1:{silent_server}/0", timeout="0.3s"), CTX)
    assert result.status is Status.DOWN
    assert result.message == f"timed out after 300ms: no answer from redis://127.0.0.1:{silent_server}/0"


async def test_memory_and_clients_measurement(redis_url: str) -> None:
    result = await probe(check(redis_url, measure=["memory", "clients"]), CTX)
    assert result.status is Status.UP
    assert result.values["used_memory_bytes"] > 0
    assert result.values["connected_clients"] >= 1

    admin = aioredis.Redis.from_url(redis_url)
    before = (await admin.config_get("maxmemory"))["maxmemory"] or 0
    await admin.config_set("maxmemory", str(1024**3))
    try:
        result = await probe(check(redis_url, measure=["memory"]), CTX)
    finally:
        await admin.config_set("maxmemory", before)
        await admin.aclose()
    pct = result.values["used_memory_pct"]
    assert pct == pytest.approx(result.values["used_memory_bytes"] / 1024**3 * 100, abs=0.01)
    assert "of maxmemory" in result.message


async def test_without_maxmemory_there_is_no_percentage(redis_url: str) -> None:
    admin = aioredis.Redis.from_url(redis_url)
    try:
        maxmemory = (await admin.config_get("maxmemory"))["maxmemory"]
    finally:
        await admin.aclose()
    if maxmemory not in ("0", b"0"):
        pytest.skip("this Redis has a maxmemory")
    result = await probe(check(redis_url, measure=["memory"]), CTX)
    assert "used_memory_pct" not in result.values


def test_target_masks_the_password() -> None:
    c = check("rediss://app:S3cret%2Fpw@cache.internal:6380/2")
    assert "S3cret" not in c.target()
    assert "cache.internal:6380/2" in c.target()
    assert {"S3cret%2Fpw", "S3cret/pw"} <= set(c.secrets())


def test_url_scheme_is_validated() -> None:
    with pytest.raises(ValidationError, match=r"redis://, rediss://"):
        check("http://cache:6379")
