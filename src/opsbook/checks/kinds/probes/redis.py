"""Runs a `redis` check: a fresh connection (no retries, socket timeouts from `timeout`), AUTH, PING, INFO."""

from __future__ import annotations

import os
import time
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from opsbook.checks.kinds.redis import RedisCheck
from opsbook.checks.result import CheckResult
from opsbook.checks.spec import RunContext
from opsbook.config.types import format_duration
from opsbook.redact import redact


async def probe(check: RedisCheck, ctx: RunContext) -> CheckResult:
    timeout = check.timeout.total_seconds()
    client = _client(check, timeout)
    try:
        return await ctx.clock.wait_for(_ping(check, client), timeout)
    except (TimeoutError, RedisTimeoutError):
        return CheckResult.down(
            f"timed out after {format_duration(check.timeout)}: no answer from {check.target()}"
        )
    except (RedisError, OSError) as exc:
        return CheckResult.down(_explain(check, exc))
    finally:
        await client.aclose()


def _client(check: RedisCheck, timeout: float) -> aioredis.Redis:
    options: dict[str, Any] = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": Retry(NoBackoff(), 0),
        "single_connection_client": True,
        "decode_responses": True,
    }
    if check.password is not None:
        options["password"] = check.password
    if check.username is not None:
        options["username"] = check.username
    if urlsplit(check.url).scheme == "rediss":
        options["ssl_cert_reqs"] = "required" if check.tls_verify else "none"
        options["ssl_check_hostname"] = check.tls_verify
        if check.ca_file:
            options["ssl_ca_certs"] = check.ca_file
    return aioredis.Redis.from_url(check.url, **options)


async def _ping(check: RedisCheck, client: aioredis.Redis) -> CheckResult:
    started = time.perf_counter()
    answer = await client.ping()
    latency_ms = (time.perf_counter() - started) * 1000
    if answer is not True:
        return CheckResult.down(f"PING answered {answer!r}, not PONG", latency_ms)
    values: dict[str, float] = {}
    if "memory" in check.measure:
        values.update(_memory(await client.info("memory")))
    if "clients" in check.measure:
        values["connected_clients"] = float((await client.info("clients")).get("connected_clients", 0))
    message = "PONG"
    if "used_memory_pct" in values:
        message += f"; memory {values['used_memory_pct']:g}% of maxmemory"
    return CheckResult.up(latency_ms, message, **values)


def _explain(check: RedisCheck, exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    cause = _os_error(exc)
    if cause is not None:
        text = f"cannot connect: {os.strerror(cause.errno or 0)}"
    if isinstance(exc, AuthenticationError) or "NOAUTH" in text or "authentication required" in text.lower():
        text = f"authentication failed: {text}"
    return redact(f"{check.target()}: {text}", check.secrets())


def _memory(info: dict[str, Any]) -> dict[str, float]:
    used = float(info.get("used_memory", 0))
    values = {"used_memory_bytes": used}
    maximum = float(info.get("maxmemory", 0) or 0)
    if maximum > 0:
        values["used_memory_pct"] = round(used / maximum * 100, 2)
    return values


def _os_error(exc: BaseException) -> OSError | None:
    """The socket error under redis-py's wrapping ("Error 111 connecting to ..."), if there is one."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return None
        if isinstance(seen, OSError) and seen.errno:
            return seen
        seen = seen.__cause__ or seen.__context__
    return None
