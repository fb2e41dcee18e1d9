"""The `postgres:` section of opsbook.yaml: report sampling and maintenance tasks in their windows.

```yaml
postgres:
  sample_every: 5m             # a snapshot of each measuring postgres check's database, for the report
  keep: 30d                    # snapshots (history, growth, top queries over a window) kept this long
  maintenance:
    - name: weekly-vacuum
      check: db/main           # the postgres check whose connection it uses
      sql: ["VACUUM ANALYZE public.orders", "REINDEX TABLE CONCURRENTLY public.orders"]
      cron: "15 2 * * 0"       # Sundays 02:15 ...
      timezone: UTC
      window: sunday-db        # ... inside the maintenance window "Sundays 02:00-04:00 UTC"
      lock_timeout: 5s
      statement_timeout: 1h    # capped at what is left of the window
      severity: P2             # when it fails or has not run for two periods
```

A schedule that can fire outside its window is an error at its line: every firing of two years is
checked against the window's occurrences, DST changes included.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, Field, ValidationError, ValidationInfo, field_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from opsbook.config.types import Model, Name, PositiveDuration, TimeZone, format_duration
from opsbook.postgres.maintenance import schedule, schedule_outside
from opsbook.rules.config import SeverityLevel
from opsbook.rules.severity import Severity
from opsbook.silences.windows import check_cron


class MaintenanceTask(Model):
    """SQL run on a schedule inside a maintenance window, with lock and statement timeouts."""

    name: Name
    check: str = Field(description="The postgres check (service/check) whose database it runs on.")
    sql: list[str] = Field(min_length=1, description="Statements, run one by one in autocommit mode.")
    cron: str = Field(description="When it runs: 5-field cron in `timezone`; must fall inside `window`.")
    timezone: TimeZone = Field(default="UTC", description="IANA zone of the cron expression.")
    window: Name = Field(description="The maintenance window (maintenance_windows[].name) it runs in.")
    lock_timeout: PositiveDuration = Field(
        default=timedelta(seconds=5), description="A statement waiting longer for a lock fails."
    )
    statement_timeout: PositiveDuration = Field(
        default=timedelta(hours=1), description="Longest a statement runs (capped at the window's end)."
    )
    severity: SeverityLevel = Field(
        default=Severity.P2, description="Of the alert when it fails or is overdue."
    )
    description: str = Field(default="", description="Why it is done (the operations log's reason).")

    @field_validator("sql", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        return check_cron(value)


class PostgresSettings(Model):
    """Report sampling and maintenance tasks."""

    sample_every: PositiveDuration = Field(
        default=timedelta(minutes=5),
        description="How often each measuring postgres check's database is sampled.",
    )
    keep: PositiveDuration = Field(default=timedelta(days=30), description="How long samples are kept.")
    top: int = Field(default=10, ge=1, le=100, description="Rows per list in the report (tables, queries).")
    maintenance: list[MaintenanceTask] = Field(default_factory=list, description="Scheduled SQL maintenance.")


def _problem(loc: tuple[str | int, ...], message: str, value: Any) -> InitErrorDetails:
    return InitErrorDetails(type=PydanticCustomError("postgres", message), loc=loc, input=value)


def _task_problems(i: int, task: MaintenanceTask, windows: dict[str, Any], checks: dict[str, Any]
                   ) -> list[InitErrorDetails]:
    problems: list[InitErrorDetails] = []
    check = checks.get(task.check)
    if check is None or getattr(check, "kind", "") != "postgres":
        known = ", ".join(sorted(c for c, spec in checks.items() if spec.kind == "postgres")) or "none"
        problems.append(_problem(("maintenance", i, "check"),
                                 f"no postgres check {task.check!r} (known: {known})", task.check))
    window = windows.get(task.window)
    if window is None:
        problems.append(_problem(("maintenance", i, "window"), f"no maintenance window {task.window!r} "
                                 f"(known: {', '.join(sorted(windows)) or 'none'})", task.window))
        return problems
    recurring = window.to_window()
    outside = schedule_outside(schedule(task.name, task.cron, task.timezone), recurring)
    if outside is not None:
        local = outside.astimezone(recurring.zone)
        problems.append(_problem(
            ("maintenance", i, "cron"),
            f"{task.cron!r} ({task.timezone}) can run outside the window {task.window!r} "
            f"({window.cron!r} for {format_duration(window.duration)}, {window.timezone}): it fires at "
            f"{local:%a %Y-%m-%d %H:%M} {window.timezone}, when the window is closed",
            task.cron,
        ))
    return problems


def _check_postgres(settings: PostgresSettings, info: ValidationInfo) -> PostgresSettings:
    windows = {w.name: w for w in info.data.get("maintenance_windows") or []}
    services = info.data.get("services")
    if services is None:
        return settings
    checks = {f"{s.name}/{c.name}": c for s in services for c in s.checks}
    problems: list[InitErrorDetails] = []
    for i, task in enumerate(settings.maintenance):  # names are unique by the loader's rule for named lists
        problems += _task_problems(i, task, windows, checks)
    if problems:
        raise ValidationError.from_exception_data("opsbook.yaml", problems)
    return settings


Postgres = Annotated[PostgresSettings, AfterValidator(_check_postgres)]
"""The type of `OpsbookConfig.postgres` (declare it after `services` and `maintenance_windows`)."""
