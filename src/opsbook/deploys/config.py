"""The deploy configuration: `deploy:` on a service, and the `deploys:` section of opsbook.yaml.

```yaml
services:
  - name: api
    deploy:
      command: "./deploy.sh {env} {version}"            # {version}, {previous_version}, {env}, {service}
      # procedure: "Deploy API"                         # or a runbook procedure (steps marked auto)
      rollback_command: "./deploy.sh {env} {version}"   # {version} is the known-good version
      environments: [staging, production]                # in order: production needs staging passed
      pre_checklist: "Pre-Deployment Checklist"          # a runbook procedure's confirm steps, or a list
      post_checklist: ["Smoke tests pass", "Stakeholders told"]
      verification:
        window: 10m                # how long the checks are watched after the command
        interval: 10s              # how often the checks run during the window
        baseline: 1h               # the period before the deploy the figures are compared with
        checks: [health]           # default: every scheduled check of the service
        rules: [api-p95]           # these rules must not fire during the window
        max_error_rate_increase: 2%   # error rate may exceed the baseline's by this much
        max_p95_ratio: 1.5         # p95 latency may be at most 1.5 x the baseline's ...
        min_p95_increase: 50ms     # ... unless it rose by less than this
        auto_rollback: true
deploys:
  change_failure_window: 1h        # a deploy followed by a rollback or an incident within this failed
  freeze_severities: [P0, P1]      # an open incident of these severities freezes the service
  freezes:                         # declared freeze windows (cron + duration, like maintenance windows)
    - {name: friday, cron: "0 16 * * 5", duration: 64h, timezone: Europe/Berlin, reason: "weekend"}
```
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, field_validator, model_validator

from opsbook.config.types import Duration, Model, Name, PositiveDuration, TimeZone
from opsbook.rules.severity import Severity
from opsbook.silences.windows import RecurringWindow, check_cron

PLACEHOLDERS = ("version", "previous_version", "env", "service")


def _percent(value: Any) -> float:
    """'2%' or 0.02 → 0.02."""
    text = str(value).strip()
    try:
        return float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise ValueError(f"{value!r} is not a percentage (e.g. '2%' or 0.02)") from None


Fraction = Annotated[float, BeforeValidator(_percent), Field(ge=0, le=1)]


def _command(value: str | None) -> str | None:
    if value is None:
        return None
    if not value.strip():
        raise ValueError("an empty command: leave it out instead")
    try:
        value.format(**dict.fromkeys(PLACEHOLDERS, ""))
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(
            f"{value!r}: placeholders are {', '.join('{' + p + '}' for p in PLACEHOLDERS)} ({exc})"
        ) from None
    return value


Command = Annotated[str | None, BeforeValidator(_command)]


class Verification(Model):
    """How a deploy is judged: its checks watched for a window against the period before it."""

    window: PositiveDuration = Field(default=timedelta(minutes=10), description="How long to watch.")
    interval: PositiveDuration = Field(
        default=timedelta(seconds=10), description="How often the checks run during the window."
    )
    baseline: PositiveDuration = Field(
        default=timedelta(hours=1), description="The period before the deploy its figures are compared with."
    )
    checks: list[Name] = Field(
        default_factory=list, description="The service's checks to watch; default all its scheduled checks."
    )
    rules: list[str] = Field(default_factory=list, description="Rules that must not fire during the window.")
    max_error_rate_increase: Fraction = Field(
        default=0.02, description="Error rate allowed above the baseline's, e.g. 2%."
    )
    max_p95_ratio: float = Field(default=1.5, ge=1, description="p95 latency allowed, times the baseline's.")
    min_p95_increase: Duration = Field(
        default=timedelta(milliseconds=50), description="A p95 rise smaller than this is never a regression."
    )
    min_samples: int = Field(default=5, ge=1, le=10_000, description="Results needed before a verdict.")
    healthy_samples: int = Field(
        default=3,
        ge=1,
        le=10_000,
        description="Consecutive healthy rounds that show a rollback restored health.",
    )
    auto_rollback: bool = Field(
        default=True, description="Roll back to the last good version on a regression."
    )


class Environment(Model):
    name: Name
    checks: list[Name] = Field(
        default_factory=list, description="Checks watched in this environment (default: verification.checks)."
    )


def _environment(value: Any) -> Any:
    return {"name": value} if isinstance(value, str) else value


class ServiceDeploy(Model):
    """How a service is deployed and rolled back (`services[].deploy`)."""

    command: Command = Field(default=None, description="Shell command; {version} {previous_version} {env}.")
    rollback_command: Command = Field(
        default=None, description="Shell command run with {version} = the last version that passed."
    )
    procedure: str | None = Field(
        default=None,
        description="Instead of command: a runbook procedure run unattended (steps marked auto), its "
        "placeholders version, previous_version, env and service given.",
    )
    rollback_procedure: str | None = Field(
        default=None, description="Instead of rollback_command: a runbook procedure, as for procedure."
    )
    environments: list[Annotated[Environment, BeforeValidator(_environment)]] = Field(
        default_factory=lambda: [Environment(name="production")],
        description="In order: each needs this version verified in the one before.",
    )
    pre_checklist: list[str] | str = Field(
        default_factory=list, description="Items to confirm before, or a runbook procedure's confirm steps."
    )
    post_checklist: list[str] | str = Field(
        default_factory=list, description="Items to confirm after a deploy that passed."
    )
    timeout: PositiveDuration = Field(default=timedelta(minutes=10), description="Longest a command may run.")
    cwd: str | None = Field(default=None, description="Working directory (default: the config's folder).")
    env: dict[str, str] = Field(default_factory=dict, description="Extra environment of the commands.")
    verification: Verification = Field(default_factory=Verification)

    @model_validator(mode="after")
    def _valid(self) -> ServiceDeploy:
        if (self.command is None) == (self.procedure is None):
            raise ValueError("say how to deploy: command: '...' or procedure: NAME (one of them)")
        if self.rollback_command is not None and self.rollback_procedure is not None:
            raise ValueError("roll back with rollback_command or rollback_procedure, not both")
        names = [e.name for e in self.environments]
        if not names:
            raise ValueError("environments: at least one")
        if len(set(names)) != len(names):
            raise ValueError("environments: a name is used twice")
        return self

    @property
    def can_roll_back(self) -> bool:
        return self.rollback_command is not None or self.rollback_procedure is not None

    def unknown_checks(self, names: set[str]) -> list[str]:
        """Checks the verification names that the service does not have (`names`: its checks)."""
        wanted = [*self.verification.checks, *(c for e in self.environments for c in e.checks)]
        return sorted({c for c in wanted if c not in names})

    def environment(self, name: str | None) -> Environment | None:
        """The environment called `name`, or the last (production) one for None."""
        if name is None:
            return self.environments[-1]
        return next((e for e in self.environments if e.name == name), None)

    def before(self, name: str) -> str | None:
        """The environment that must have passed before `name`, if any."""
        names = [e.name for e in self.environments]
        at = names.index(name)
        return names[at - 1] if at > 0 else None


class DeployFreeze(Model):
    """A recurring period when deploys are refused (unless forced with a reason)."""

    name: Name
    cron: str = Field(description="When each freeze starts: 5-field cron, read in `timezone`.")
    duration: PositiveDuration = Field(description="How long it lasts.")
    timezone: TimeZone = "UTC"
    services: list[Name] = Field(default_factory=list, description="Frozen services; empty: all.")
    reason: str = Field(default="", description="Shown when a deploy is refused.")

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        return check_cron(value)

    def window(self) -> RecurringWindow:
        return RecurringWindow(
            name=self.name,
            cron=self.cron,
            duration=self.duration,
            timezone=self.timezone,
            title=self.reason or self.name,
            description="",
            matchers=(),
            services=tuple(self.services),
        )


class DeploysSettings(Model):
    """What every service's deploys share: reports and freezes."""

    change_failure_window: PositiveDuration = Field(
        default=timedelta(hours=1),
        description="A deploy followed by a rollback or an incident on its service within this failed.",
    )
    freeze_severities: list[Severity] = Field(
        default_factory=lambda: [Severity.P0, Severity.P1],
        description="An open incident of these severities on a service freezes its deploys.",
    )
    freezes: list[DeployFreeze] = Field(default_factory=list, description="Declared freeze windows.")
    rollback_severity: Severity = Field(
        default=Severity.P2, description="Severity of the incident opened when a deploy was rolled back."
    )
    failed_rollback_severity: Severity = Field(
        default=Severity.P1,
        description="Severity of the incident opened when a rollback did not restore health.",
    )
