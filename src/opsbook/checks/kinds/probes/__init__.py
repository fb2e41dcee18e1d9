"""How each check kind is run, one module per kind; imported by the runner only.

The kinds' config (`checks/kinds/<kind>.py`) is what opsbook.yaml accepts and is read by every command;
the probes bring the client libraries (aiohttp, psycopg, redis, psutil) and are loaded only where checks
run, so a command that only reads the config never pays for them. Even there each kind's module is
imported the first time a check of that kind runs: a `serve` without postgres or redis checks does not
hold psycopg and redis in memory (about 15 MiB; bench/footprint.py).
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

from opsbook.checks.result import CheckResult
from opsbook.checks.spec import RunContext

Probe = Callable[[Any, RunContext], Awaitable[CheckResult]]
"""Probes once a check of its kind (given that kind's spec). An ordinary failure is a DOWN result."""

KINDS = ("command", "host", "http", "postgres", "redis", "tcp", "tls")


class _Probes(Mapping[str, Probe]):
    """Each kind's probe; its module is imported on first use."""

    def __init__(self) -> None:
        self._loaded: dict[str, Probe] = {}

    def __getitem__(self, kind: str) -> Probe:
        probe = self._loaded.get(kind)
        if probe is None:
            if kind not in KINDS:
                raise KeyError(kind)
            probe = self._loaded[kind] = importlib.import_module(f"{__name__}.{kind}").probe
        return probe

    def __iter__(self) -> Iterator[str]:
        return iter(KINDS)

    def __len__(self) -> int:
        return len(KINDS)


PROBES: Mapping[str, Probe] = _Probes()
"""The probe of every kind the scheduler runs, by kind (`heartbeat` is pushed, not probed)."""
