"""Who this process is in a cluster: a name, its roles and (for probes) its location.

    ProcessIdentity.for_serve(workers=True)        # `opsbook serve`: the API and the worker's duties
    ProcessIdentity.for_worker(name="w1")          # `opsbook worker`: checks, rules, notifications
    ProcessIdentity(name="eu-1", roles=WORKER_ONLY, location="eu")

`member_id` is unique per start (host, pid and a random suffix), so a restarted process is a new member
and the old one shows as gone.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    API = "api"  # the HTTP API, the web UI, the status page, heartbeat pings and event ingest
    WORKER = "worker"  # checks (leased), rule evaluation, delivery, singleton duties


BOTH = frozenset({Role.API, Role.WORKER})
WORKER_ONLY = frozenset({Role.WORKER})
API_ONLY = frozenset({Role.API})


def _host() -> str:
    return socket.gethostname() or "localhost"


@dataclass(frozen=True)
class ProcessIdentity:
    name: str
    roles: frozenset[Role] = BOTH
    location: str | None = None
    host: str = field(default_factory=_host)
    pid: int = field(default_factory=os.getpid)
    member_id: str = ""

    def __post_init__(self) -> None:
        if not self.member_id:
            object.__setattr__(self, "member_id", f"{self.host}:{self.pid}:{secrets.token_hex(3)}")

    @property
    def works(self) -> bool:
        """Runs checks, rules, delivery and the singleton duties it wins."""
        return Role.WORKER in self.roles

    @property
    def serves(self) -> bool:
        return Role.API in self.roles

    @property
    def roles_text(self) -> str:
        return ",".join(sorted(self.roles))

    @classmethod
    def for_serve(cls, workers: bool = True, name: str | None = None, location: str | None = None
                  ) -> ProcessIdentity:
        return cls(name or f"serve@{_host()}:{os.getpid()}", BOTH if workers else API_ONLY, location)

    @classmethod
    def for_worker(cls, name: str | None = None, location: str | None = None) -> ProcessIdentity:
        return cls(name or f"worker@{_host()}:{os.getpid()}", WORKER_ONLY, location)
