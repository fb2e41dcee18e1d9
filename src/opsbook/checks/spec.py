"""The base of every check kind's configuration, and what a check is given when it runs.

Each kind has its config fields (a subclass of `CheckSpec`) in `kinds/<kind>.py`, which every command
loads with the config, and its probe in `kinds/probes/<kind>.py` with its client library, which only the
runner loads. A kind without a probe module (a test's fake kind) may implement `run` itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field, ValidationInfo, field_validator

from opsbook.checks.result import CheckResult
from opsbook.clock import Clock
from opsbook.config.types import Model, Name, PositiveDuration
from opsbook.rules.config import CheckRules

if TYPE_CHECKING:
    from opsbook.locations.quorum import Quorum


@dataclass
class RunContext:
    """What the runner hands a check: the injected clock and the team's time zone, in which a check's
    message says any time (and nothing global)."""

    clock: Clock
    zone: str = "UTC"


class CheckSpec(Model):
    """Fields every check has, whatever its kind."""

    kind: str
    name: Name
    description: str = ""
    interval: PositiveDuration = Field(default=timedelta(seconds=60), description="How often the check runs.")
    timeout: PositiveDuration = Field(default=timedelta(seconds=10), description="A run taking longer fails.")
    enabled: bool = True
    labels: dict[str, str] = Field(default_factory=dict)
    failures: int | None = Field(default=None, ge=0, description="Consecutive failures that fire (0: never).")
    rules: CheckRules = Field(default_factory=list, description="Alert rules of this check.")
    depends_on: list[str] = Field(
        default_factory=list, description="Services or checks it needs, besides its service's `depends_on`."
    )

    locations: list[Name] = Field(
        default_factory=list,
        description="Probe from each of these locations (workers started with `--location NAME`, on "
        "PostgreSQL); the check is down only when `down_when` of them agree. On SQLite it runs once, from "
        "`opsbook serve`, without a quorum; on PostgreSQL only the workers of its locations run it.",
    )
    down_when: str | None = Field(
        default=None,
        description="With `locations`: how many must report down for the check to be down: `2 of 3`, "
        "`majority` (the default), `all` or `any`.",
    )

    push: ClassVar[bool] = False
    """True for kinds that are not run by the scheduler but receive pushes (heartbeat)."""

    @field_validator("locations")
    @classmethod
    def _distinct_locations(cls, value: list[str]) -> list[str]:
        if value and cls.push:
            raise ValueError("a pushed check (heartbeat) is not probed from anywhere: it takes no locations")
        twice = sorted({name for name in value if value.count(name) > 1})
        if twice:
            raise ValueError(f"location listed twice: {', '.join(twice)}")
        return value

    @field_validator("down_when")
    @classmethod
    def _quorum(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        from opsbook.locations.quorum import Quorum

        locations = info.data.get("locations") or []
        if not locations:
            raise ValueError("down_when needs `locations:` (the places the check is probed from)")
        Quorum.parse(value, len(locations))
        return value

    @property
    def quorum(self) -> Quorum | None:
        """How many of `locations` must report down (None: a check without locations)."""
        from opsbook.locations.quorum import Quorum

        if not self.locations:
            return None
        if self.down_when is None:
            return Quorum.majority(len(self.locations))
        return Quorum.parse(self.down_when, len(self.locations))

    async def run(self, ctx: RunContext) -> CheckResult:
        """Probe once. Raise nothing for an ordinary failure: return CheckResult.down with a reason."""
        raise NotImplementedError(f"check kind {self.kind} cannot be run")

    def secrets(self) -> list[str]:
        """Literal values (passwords, tokens) that must be masked wherever this check's output is shown."""
        return []

    def target(self) -> str:
        """What the check probes, for display (secrets already removed)."""
        return ""
