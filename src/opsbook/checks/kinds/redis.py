"""The `redis` check kind: connect, authenticate, PING; optionally read memory use from INFO.

One fresh connection per run (redis.asyncio, no retries, socket timeouts from the check's `timeout`),
so the latency is connect + AUTH + PING. `rediss://` URLs use TLS. With `measure: [memory]` the result
also carries `used_memory_bytes` and, when the server has a `maxmemory`, `used_memory_pct`; with
`measure: [clients]` it carries `connected_clients`. Messages never contain the password.
"""

from __future__ import annotations

import os
import time
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import redis.asyncio as aioredis
from pydantic import Field, field_validator
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from opsbook.checks.result import CheckResult
from opsbook.checks.spec import CheckSpec, RunContext
from opsbook.config.types import format_duration
from opsbook.redact import redact

_SCHEMES = ("redis", "rediss", "unix")


class RedisCheck(CheckSpec):
    """PINGs a Redis server; fails on refusal, authentication errors, a wrong answer or a timeout."""

    kind: Literal["redis"]
    url: str = Field(
        description="redis://[user:password@]host:port/db, rediss:// for TLS, or unix:///path/to/socket. "
        "Keep the password in the environment: `redis://:${REDIS_PASSWORD}@cache:6379/0`."
    )
    password: str | None = Field(
        default=None, description="Password, if not in the URL (prefer `${REDIS_PASSWORD}`)."
    )
    username: str | None = Field(default=None, description="ACL user name, if not in the URL.")
    tls_verify: bool = Field(
        default=True, description="For rediss://: verify the server certificate and host name."
    )
    ca_file: str | None = Field(
        default=None, description="For rediss://: CA bundle to verify the server with."
    )
    measure: list[Literal["memory", "clients"]] = Field(
        default_factory=list,
        description="Extra values from INFO: `memory` records used_memory_bytes and (if maxmemory is set) "
        "used_memory_pct; `clients` records connected_clients.",
    )

    @field_validator("url")
    @classmethod
    def _valid_url(cls, value: str) -> str:
        scheme = urlsplit(value).scheme
        if scheme not in _SCHEMES:
            raise ValueError("must start with redis://, rediss:// (TLS) or unix://")
        return value

    def secrets(self) -> list[str]:
        found = [self.password] if self.password else []
        password = urlsplit(self.url).password
        if password:
            found += [password, unquote(password)]
        return found

    def target(self) -> str:
        return redact(self.url, self.secrets())

    async def run(self, ctx: RunContext) -> CheckResult:
        timeout = self.timeout.total_seconds()
        client = self._client(timeout)
        try:
            return await ctx.clock.wait_for(self._probe(client), timeout)
        except (TimeoutError, RedisTimeoutError):
            return CheckResult.down(
                f"timed out after {format_duration(self.timeout)}: no answer from {self.target()}"
            )
        except (RedisError, OSError) as exc:
            return CheckResult.down(self._explain(exc))
        finally:
            await client.aclose()

    def _client(self, timeout: float) -> aioredis.Redis:
        options: dict[str, Any] = {
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            "retry": Retry(NoBackoff(), 0),
            "single_connection_client": True,
            "decode_responses": True,
        }
        if self.password is not None:
            options["password"] = self.password
        if self.username is not None:
            options["username"] = self.username
        if urlsplit(self.url).scheme == "rediss":
            options["ssl_cert_reqs"] = "required" if self.tls_verify else "none"
            options["ssl_check_hostname"] = self.tls_verify
            if self.ca_file:
                options["ssl_ca_certs"] = self.ca_file
        return aioredis.Redis.from_url(self.url, **options)

    async def _probe(self, client: aioredis.Redis) -> CheckResult:
        started = time.perf_counter()
        answer = await client.ping()
        latency_ms = (time.perf_counter() - started) * 1000
        if answer is not True:
            return CheckResult.down(f"PING answered {answer!r}, not PONG", latency_ms)
        values: dict[str, float] = {}
        if "memory" in self.measure:
            values.update(_memory(await client.info("memory")))
        if "clients" in self.measure:
            values["connected_clients"] = float((await client.info("clients")).get("connected_clients", 0))
        message = "PONG"
        if "used_memory_pct" in values:
            message += f"; memory {values['used_memory_pct']:g}% of maxmemory"
        return CheckResult.up(latency_ms, message, **values)

    def _explain(self, exc: BaseException) -> str:
        text = " ".join(str(exc).split()) or type(exc).__name__
        cause = _os_error(exc)
        if cause is not None:
            text = f"cannot connect: {os.strerror(cause.errno or 0)}"
        if (
            isinstance(exc, AuthenticationError)
            or "NOAUTH" in text
            or "authentication required" in text.lower()
        ):
            text = f"authentication failed: {text}"
        return redact(f"{self.target()}: {text}", self.secrets())


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
