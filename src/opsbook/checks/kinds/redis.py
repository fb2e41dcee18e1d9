"""The `redis` check kind: connect, authenticate, PING; optionally read memory use from INFO.

One fresh connection per run (redis.asyncio, no retries, socket timeouts from the check's `timeout`),
so the latency is connect + AUTH + PING. `rediss://` URLs use TLS. With `measure: [memory]` the result
also carries `used_memory_bytes` and, when the server has a `maxmemory`, `used_memory_pct`; with
`measure: [clients]` it carries `connected_clients`. Messages never contain the password.
The probe that runs it is `probes/redis.py`.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, field_validator

from opsbook.checks.spec import CheckSpec
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
