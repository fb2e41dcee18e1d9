"""Every check kind, one module each; `CheckConfig` is the tagged union opsbook.yaml's `checks:` accepts."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from opsbook.checks.kinds.command import CommandCheck
from opsbook.checks.kinds.heartbeat import HeartbeatCheck
from opsbook.checks.kinds.host import HostCheck
from opsbook.checks.kinds.http import HttpCheck
from opsbook.checks.kinds.postgres import PostgresCheck
from opsbook.checks.kinds.redis import RedisCheck
from opsbook.checks.kinds.tcp import TcpCheck
from opsbook.checks.kinds.tls import TlsCheck

CheckConfig = Annotated[
    HttpCheck | TcpCheck | TlsCheck | PostgresCheck | RedisCheck | CommandCheck | HeartbeatCheck | HostCheck,
    Field(discriminator="kind"),
]

__all__ = [
    "CheckConfig",
    "CommandCheck",
    "HeartbeatCheck",
    "HostCheck",
    "HttpCheck",
    "PostgresCheck",
    "RedisCheck",
    "TcpCheck",
    "TlsCheck",
]
