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
from typing import Annotated, Any

from pydantic import AfterValidator, Field, ValidationError, ValidationInfo, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

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
    """Every resource's check exists (when `services` parsed), each error at its line (names are unique
    by the loader's rule for named lists)."""
    services = info.data.get("services")
    if services is None:
        return settings
    known = {f"{s.name}/{c.name}" for s in services for c in s.checks}
    listed = ", ".join(sorted(known)) or "none"
    problems = [
        _problem(("resources", i, "check"),
                 f"no check {resource.check!r} (write service/check; known: {listed})", resource.check)
        for i, resource in enumerate(settings.resources) if resource.check not in known
    ]
    if problems:
        raise ValidationError.from_exception_data("opsbook.yaml", problems)
    return settings


def _problem(loc: tuple[str | int, ...], message: str, value: Any) -> InitErrorDetails:
    return InitErrorDetails(type=PydanticCustomError("capacity", message), loc=loc, input=value)


Capacity = Annotated[CapacitySettings, AfterValidator(_check_capacity)]
"""The type of `OpsbookConfig.capacity` (declare it after `services`)."""
