"""The `chores:` section of opsbook.yaml: runbook procedures done on a schedule.

```yaml
chores:
  - name: rotate-db-passwords
    procedure: "Rotate database passwords"   # the runbook procedure, by name as for `runbook run`
    schedule: "0 9 1 * *"                    # cron: due at 09:00 on the 1st of each month
    timezone: Europe/Berlin                  # of the schedule (default: the team's `timezone`)
    oncall: primary                          # assignee: the on-call of this schedule when due...
    # user: ana                              # ...or a user
    within: 2d                               # time to do it in; then it is overdue
```

When due, the assignee is told on their contacts for `reminder_severity` (P4: routed like a P4); one not
done `within` raises an alert of `overdue_severity` (P3) on the service `chores`. A successful run of the
procedure (its checklist items done) marks it done; so do `opsbook chore done|skip`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Self

from pydantic import AfterValidator, Field, ValidationInfo, model_validator

from opsbook.config.cron import Cron
from opsbook.config.types import Model, Name, PositiveDuration, TimeZone
from opsbook.rules.config import SeverityLevel
from opsbook.rules.severity import Severity
from opsbook.runbooks.config import ProcedureName


class ChoreConfig(Model):
    """One recurring chore: what, when, by whom, in how long."""

    name: Name
    procedure: ProcedureName = Field(min_length=1, description="The runbook procedure that does it.")
    schedule: Cron = Field(description="When it is due (cron, in `timezone`).")
    timezone: TimeZone | None = Field(default=None, description="Zone of the schedule (default: the team's).")
    oncall: str | None = Field(default=None, description="Assignee: whoever is on call on this schedule.")
    user: str | None = Field(default=None, description="Assignee: this user.")
    within: PositiveDuration = Field(default=timedelta(days=1), description="Time to do it in once due.")
    reminder_severity: SeverityLevel = Field(default=Severity.P4, description="The reminder goes as this.")
    overdue_severity: SeverityLevel = Field(default=Severity.P3, description="Severity of the overdue alert.")

    @model_validator(mode="after")
    def _assignee(self) -> Self:
        if (self.oncall is None) == (self.user is None):
            raise ValueError("give exactly one assignee: 'oncall' (a schedule) or 'user'")
        return self


def _check(items: list[ChoreConfig], info: ValidationInfo) -> list[ChoreConfig]:
    """Each name once; an `oncall` names a schedule, a `user` a user."""
    names = [item.name for item in items]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ValueError(f"chore name {twice[0]!r} is used twice")
    schedules = info.data.get("schedules")
    users = info.data.get("users")
    for item in items:  # `schedules:` or `users:` itself invalid (None): reported there
        if item.oncall and schedules is not None and item.oncall not in {s.name for s in schedules}:
            raise ValueError(f"chore {item.name!r}: unknown schedule {item.oncall!r}; add it to `schedules:`")
        if item.user is not None and users is not None and item.user not in {u.name for u in users}:
            raise ValueError(f"chore {item.name!r}: unknown user {item.user!r}; add it to `users:`")
    return items


Chores = Annotated[list[ChoreConfig], AfterValidator(_check)]
"""The type of `OpsbookConfig.chores`."""
