"""The `capacity:` section of opsbook.yaml: the runbooks' capacity table and scaling plan.

```yaml
capacity:
  history: 14d                 # the trend is fitted over this much of the hour rollups
  min_history: 3d              # with less, a forecast says "too little history"
  resources:
    - name: db-disk
      title: "db /data"
      check: db/disk           # service/check whose measured value it is
      value: disk_pct:/data    # the value's name, as rules see it
      capacity: 100            # what 100 % is, in the value's unit
      unit: "%"
      plan:                    # the scaling plan: at (value's unit) → what to do
        - {at: 80, action: "Increase volume or delete old data"}
        - {at: 90, action: "Increase volume now"}
    - {name: connections, check: db/main, value: connections_used, capacity: 200,
       plan: [{at: 150, action: "Increase connection pool"}]}
```

Rules forecast these values with `days_until(VALUE >= LEVEL)` (opsbook.rules.forecast); the plan's
action for the level is in the alert's message.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, Field, ValidationInfo, model_validator

from opsbook.config.types import Model, Name, PositiveDuration


class PlanStep(Model):
    """One line of the scaling plan: "If Disk > 80 %: increase volume or delete old data"."""

    at: float = Field(description="The level (in the value's unit) from which the action applies.")
    action: str = Field(min_length=1, description="What to do, in words people act on.")


class Resource(Model):
    """One row of the capacity table: a measured value, its capacity and the plan."""

    name: Name
    title: str = Field(default="", description="How people call it ('db /data'); defaults to the name.")
    check: str = Field(description="The check measuring it: service/check.")
    value: str = Field(description="The measured value's name, e.g. disk_pct:/data or connections_pct.")
    capacity: float = Field(default=100.0, gt=0, description="The value at full capacity (100 %).")
    unit: str = Field(default="", description="Unit shown after numbers: '%', ' GB' ...")
    plan: list[PlanStep] = Field(default_factory=list, description="Scaling plan: levels and actions.")

    @model_validator(mode="after")
    def _plan_sorted(self) -> Resource:
        self.plan.sort(key=lambda step: step.at)
        return self

    def label(self) -> str:
        return self.title or self.name

    def actions(self) -> dict[float, str]:
        return {step.at: step.action for step in self.plan}


class CapacitySettings(Model):
    """The capacity table and how forecasts are made."""

    history: PositiveDuration = Field(
        default=timedelta(days=14), description="How much of the hour rollups a trend is fitted over."
    )
    min_history: PositiveDuration = Field(
        default=timedelta(days=3), description="Less history than this gives no forecast (it says so)."
    )
    resources: list[Resource] = Field(default_factory=list, description="The capacity table's rows.")


def _check_capacity(settings: CapacitySettings, info: ValidationInfo) -> CapacitySettings:
    """Names unique; every resource's check exists (checked when `services` parsed)."""
    seen: set[str] = set()
    for resource in settings.resources:
        if resource.name in seen:
            raise ValueError(f"capacity resource {resource.name!r} is named twice")
        seen.add(resource.name)
    services = info.data.get("services")
    if services is None:
        return settings
    known = {f"{s.name}/{c.name}" for s in services for c in s.checks}
    for resource in settings.resources:
        if resource.check not in known:
            raise ValueError(f"resource {resource.name!r}: no check {resource.check!r} "
                             f"(write service/check; known: {', '.join(sorted(known)) or 'none'})")
    return settings


Capacity = Annotated[CapacitySettings, AfterValidator(_check_capacity)]
"""The type of `OpsbookConfig.capacity` (declare it after `services`)."""
