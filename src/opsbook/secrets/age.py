"""A secret's age against its rotation policy at an instant, pure.

Rotation is due `every` after the last rotation: from `warn_before` ahead it is due soon (the owner is
told), from the due instant on it is overdue (a secret 91 days old against `every: 90d` is overdue, and
became so at exactly 90 days). A secret whose last rotation opsbook has never learned counts as due soon,
so the owner records it. After a compromise, the emergency rotation is due `emergency_within` after the
report; until a rotation is recorded the secret is compromised, and past that deadline the emergency
rotation is overdue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from opsbook.checks.result import CheckResult, Status
from opsbook.config.types import format_duration
from opsbook.runbooks.commands import opsbook_command
from opsbook.secrets.config import SecretConfig
from opsbook.timefmt import show_time

if TYPE_CHECKING:
    from opsbook.config.schema import ServerSettings

DAY = 86400.0


@dataclass(frozen=True)
class SecretState:
    name: str
    now: datetime
    last_rotated: datetime | None
    due_at: datetime | None
    warn_at: datetime | None
    compromise_due: datetime | None  # an open compromise's emergency deadline

    @property
    def age(self) -> timedelta | None:
        return self.now - self.last_rotated if self.last_rotated is not None else None

    @property
    def overdue(self) -> bool:
        return self.due_at is not None and self.now >= self.due_at

    @property
    def due_soon(self) -> bool:
        if self.last_rotated is None:
            return True
        assert self.warn_at is not None
        return self.warn_at <= self.now and not self.overdue

    @property
    def compromised(self) -> bool:
        return self.compromise_due is not None

    @property
    def emergency_overdue(self) -> bool:
        return self.compromise_due is not None and self.now >= self.compromise_due

    @property
    def status_word(self) -> str:
        for word, flag in (("emergency overdue", self.emergency_overdue), ("compromised", self.compromised),
                           ("overdue", self.overdue), ("unknown", self.last_rotated is None),
                           ("due soon", self.due_soon)):
            if flag:
                return word
        return "ok"

    @property
    def next_change(self) -> datetime | None:
        instants = (self.warn_at, self.due_at, self.compromise_due)
        future = [t for t in instants if t is not None and t > self.now]
        return min(future) if future else None

    def describe(self, every: timedelta, zone: str, server: ServerSettings | None = None) -> str:
        """The state in words, times in the team's `zone` (`server`: how a responder runs opsbook, for the
        command it suggests)."""
        policy = f"policy every {format_duration(every)}"
        if self.last_rotated is None or self.due_at is None:
            text = (f"last rotation unknown ({policy}): record it with "
                    f"`{opsbook_command(server, 'secret', 'rotated', self.name)}` (--at for an earlier time)")
        else:
            days = (self.now - self.last_rotated).total_seconds() / DAY
            left = (self.due_at - self.now).total_seconds() / DAY
            when = f"overdue by {-left:.1f} days" if left <= 0 else f"due in {left:.1f} days"
            text = (f"last rotated {show_time(self.last_rotated, zone, fmt='%Y-%m-%d')}, {days:.0f} days ago "
                    f"({policy}); {when}")
        if self.compromise_due is not None:
            text += f"; compromised: emergency rotation due by {show_time(self.compromise_due, zone)}"
        return text

    def result(self, every: timedelta, zone: str) -> CheckResult:
        values = {"due_soon": float(self.due_soon), "overdue": float(self.overdue),
                  "compromised": float(self.compromised), "emergency_overdue": float(self.emergency_overdue),
                  "unknown": float(self.last_rotated is None)}
        if self.last_rotated is not None and self.due_at is not None:
            values["age_days"] = round((self.now - self.last_rotated).total_seconds() / DAY, 3)
            values["days_left"] = round((self.due_at - self.now).total_seconds() / DAY, 3)
        if self.overdue or self.compromised:
            status = Status.DOWN
        elif self.due_soon:
            status = Status.DEGRADED
        else:
            status = Status.UP
        return CheckResult(status, None, self.describe(every, zone), values)


def judge(secret: SecretConfig, last_rotated: datetime | None, compromise_due: datetime | None,
          now: datetime) -> SecretState:
    due = last_rotated + secret.every if last_rotated is not None else None
    warn = due - secret.warn_before if due is not None else None
    return SecretState(secret.name, now, last_rotated, due, warn, compromise_due)
