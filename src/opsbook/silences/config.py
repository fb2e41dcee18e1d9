"""The `maintenance_windows:` section of opsbook.yaml: recurring windows as cron + duration + time zone.

```yaml
maintenance_windows:
  - name: sunday-db
    title: "Weekly database maintenance"
    cron: "0 2 * * 0"          # Sundays 02:00 ...
    duration: 2h               # ... to 04:00
    timezone: UTC              # IANA zone the cron expression is read in (default UTC)
    services: [db]             # alerts of these services are muted
    match: {severity: "P[2-4]"}  # optional: every NAME: REGEX must match too (fully anchored)
```

A window must say what it mutes: `services`, `match`, or both (`match: {service: ".*"}` for all).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator, model_validator

from opsbook.config.types import Duration, Model, Name, TimeZone
from opsbook.silences.matchers import Matcher, MatcherError, Op, service_matcher
from opsbook.silences.windows import RecurringWindow, check_cron


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {value!r}: {exc}") from None
    return value


Regex = Annotated[str, AfterValidator(_regex)]


class MaintenanceWindowConfig(Model):
    """A recurring maintenance window."""

    name: Name
    title: str = Field(default="", description="Shown on the status page; defaults to the name.")
    description: str = Field(default="", description="Longer text for the status page.")
    cron: str = Field(description="When each occurrence starts: 5-field cron, read in `timezone`.")
    duration: Duration = Field(description="How long each occurrence lasts, e.g. 2h.")
    timezone: TimeZone = Field(default="UTC", description="IANA time zone of the cron expression.")
    services: list[Name] = Field(default_factory=list, description="Services whose alerts are muted.")
    match: dict[str, Regex] = Field(
        default_factory=dict,
        description="Also required: NAME: REGEX (service, check, rule, severity, label)"
    )

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        return check_cron(value)

    @field_validator("duration")
    @classmethod
    def _duration(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("a maintenance window's duration must be positive")
        return value

    @field_validator("match")
    @classmethod
    def _match(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            try:
                Matcher.make(name, Op.RE, "")
            except MatcherError as exc:
                raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _scope(self) -> MaintenanceWindowConfig:
        if not self.services and not self.match:
            raise ValueError(
                "say what this window mutes: services: [...] and/or match: {...}"
                " (match: {service: '.*'} for all)"
            )
        return self

    def matchers(self) -> tuple[Matcher, ...]:
        found = [service_matcher(self.services)] if self.services else []
        found += [Matcher.make(name, Op.RE, regex) for name, regex in self.match.items()]
        return tuple(found)

    def to_window(self) -> RecurringWindow:
        return RecurringWindow(
            name=self.name, cron=self.cron, duration=self.duration, timezone=self.timezone,
            title=self.title or self.name, description=self.description, matchers=self.matchers(),
            services=tuple(self.services),
        )


def _unique(windows: list[MaintenanceWindowConfig]) -> list[MaintenanceWindowConfig]:
    seen: set[str] = set()
    for window in windows:
        if window.name in seen:
            raise ValueError(f"maintenance window name {window.name!r} is used twice")
        seen.add(window.name)
    return windows


MaintenanceWindows = Annotated[list[MaintenanceWindowConfig], AfterValidator(_unique)]
"""The type of `OpsbookConfig.maintenance_windows`."""
