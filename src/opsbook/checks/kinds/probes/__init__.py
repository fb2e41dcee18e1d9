"""How each check kind is run, one module per kind; imported by the runner only.

The kinds' config (`checks/kinds/<kind>.py`) is what opsbook.yaml accepts and is read by every command;
the probes bring the client libraries (aiohttp, psycopg, redis, psutil) and are loaded only where checks
run, so a command that only reads the config never pays for them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Any

from opsbook.checks.kinds.probes import command, host, http, postgres, redis, tcp, tls
from opsbook.checks.result import CheckResult
from opsbook.checks.spec import RunContext

Probe = Callable[[Any, RunContext], Awaitable[CheckResult]]
"""Probes once a check of its kind (given that kind's spec). An ordinary failure is a DOWN result."""

PROBES: Mapping[str, Probe] = MappingProxyType(
    {
        "command": command.probe,
        "host": host.probe,
        "http": http.probe,
        "postgres": postgres.probe,
        "redis": redis.probe,
        "tcp": tcp.probe,
        "tls": tls.probe,
    }
)
"""The probe of every kind the scheduler runs, by kind (`heartbeat` is pushed, not probed)."""
