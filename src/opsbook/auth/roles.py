"""Roles and who is acting: viewer < responder < admin."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"  # reads everything not secret
    RESPONDER = "responder"  # acknowledges, resolves, silences, runs runbook commands
    ADMIN = "admin"  # changes configuration-like state: tokens, users, overrides

    @property
    def rank(self) -> int:
        return [Role.VIEWER, Role.RESPONDER, Role.ADMIN].index(self)

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


@dataclass(frozen=True)
class Principal:
    """Whoever makes a request or runs a command: a user, a token, or opsbook itself."""

    name: str
    role: Role
    source: str = ""  # client address, "cli", or "system"


SYSTEM = Principal("opsbook", Role.ADMIN, "system")
