"""The base of every check kind's configuration, and what a check is given when it runs.

Each kind has its config fields (a subclass of `CheckSpec`) in `kinds/<kind>.py`, which every command
loads with the config, and its probe in `kinds/probes/<kind>.py` with its client library, which only the
runner loads. A kind without a probe module (a test's fake kind) may implement `run` itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import ClassVar

from pydantic import Field

from opsbook.checks.result import CheckResult
from opsbook.clock import Clock
from opsbook.config.types import Model, Name, PositiveDuration
from opsbook.rules.config import CheckRules


@dataclass
class RunContext:
    """What the runner hands a check: the injected clock (and nothing global)."""

    clock: Clock


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

    push: ClassVar[bool] = False
    """True for kinds that are not run by the scheduler but receive pushes (heartbeat)."""

    async def run(self, ctx: RunContext) -> CheckResult:
        """Probe once. Raise nothing for an ordinary failure: return CheckResult.down with a reason."""
        raise NotImplementedError(f"check kind {self.kind} cannot be run")

    def secrets(self) -> list[str]:
        """Literal values (passwords, tokens) that must be masked wherever this check's output is shown."""
        return []

    def target(self) -> str:
        """What the check probes, for display (secrets already removed)."""
        return ""
