"""The `backups:` section of opsbook.yaml: backup jobs, how opsbook learns of their backups, and their
restore drills.

```yaml
backups:
  - name: db-nightly
    component: db                       # what it protects (a service, or any word)
    schedule: "0 2 * * *"               # when the job runs, in `timezone`
    timezone: UTC
    retention: {days: 7}                # and/or count: 7
    rpo: 1d                             # recovery point objective: newest good backup at most this old
    rto: 2h                             # recovery time objective: a drill's restore at most this long
    heartbeat: {grace: 1h}              # the job pings /ping/<token> (size=BYTES in query or body)
    list:                               # and/or: a command listing the backups that exist
      command: aws rds describe-db-snapshots --db-instance-identifier prod --output json
      items: DBSnapshots
      time: SnapshotCreateTime
      size: AllocatedStorage
      size_unit: GiB
    drill:
      schedule: "0 4 * * 0"             # weekly
      postgres: {dsn: "${DRILL_DSN}", dump: /backups/db-*.dump}
      smoke:
        - {sql: "select count(*) from users", min: 1000}
        - {sql: "select max(created_at) > now() - interval '1 day' from orders"}
```
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, StringConstraints, ValidationInfo, model_validator

from opsbook.config.cron import Cron
from opsbook.config.types import Duration, Model, PositiveDuration, TimeZone
from opsbook.rules.config import SeverityLevel
from opsbook.rules.severity import Severity
from opsbook.runbooks.config import ProcedureName

JobName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_\-]*$", min_length=1, max_length=56)]
"""A backup job's name: its checks are `backups/<name>`, `backups/<name>-state`, `backups/<name>-drill`."""

SIZE_UNITS = {"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "KiB": 1024, "MiB": 1024**2,
              "GiB": 1024**3, "TiB": 1024**4}


class Retention(Model):
    """How long backups are kept: `days` (older ones should be gone) and/or `count` (how many are kept)."""

    days: int | None = Field(default=None, ge=1, le=36500, description="Backups older than this are gone.")
    count: int | None = Field(default=None, ge=1, le=100_000, description="How many backups are kept.")

    @model_validator(mode="after")
    def _something(self) -> Self:
        if self.days is None and self.count is None:
            raise ValueError("give days, count or both")
        return self


class HeartbeatSource(Model):
    """The job pings `/ping/<token>` when it finishes (`/start` first, so its duration is measured)."""

    grace: Duration = Field(
        default=timedelta(hours=1), description="How late after a scheduled time the ping may come."
    )
    token: str | None = Field(
        default=None, min_length=16,
        description="Secret part of the ping URL (use ${ENV}); generated if left out.",
    )


class ListSource(Model):
    """A command printing the backups that exist, as JSON or as lines (`ls -l --time-style=+%s DIR`)."""

    command: str = Field(min_length=1, description="Shell command; its standard output is parsed.")
    format: Literal["json", "lines"] = Field(default="json", description="How the output is read.")
    items: str = Field(
        default="", description="JSON: dotted path to the list of backups ('DBSnapshots', '0.backup'); "
        "empty: the document is the list."
    )
    time: str = Field(
        default="time", description="JSON: dotted path of a backup's time in an item ('timestamp.stop'). "
        "Lines: 1-based column number, or empty for the first column that is a time."
    )
    size: str = Field(
        default="", description="JSON: dotted path of the size ('info.size'). Lines: 1-based column, or "
        "empty for the nearest whole number before the time."
    )
    size_unit: Literal["B", "KB", "MB", "GB", "TB", "KiB", "MiB", "GiB", "TiB"] = Field(
        default="B", description="Unit of the size field."
    )
    status: str = Field(default="", description="JSON: dotted path of a status field (optional).")
    ok_status: list[str] = Field(
        default_factory=lambda: ["available", "completed", "complete", "ok", "success", "succeeded", "false"],
        description="Status values (any case) of a good backup; 'false' is pgBackRest's error: false.",
    )
    id: str = Field(default="", description="JSON: dotted path of the backup's identifier (optional).")
    every: PositiveDuration = Field(default=timedelta(hours=1), description="How often the command runs.")
    timeout: PositiveDuration = Field(
        default=timedelta(seconds=60), description="Longest the command may take."
    )
    env: dict[str, str] = Field(default_factory=dict, description="Environment of the command (use ${ENV}).")


class Suspicion(Model):
    """A backup far faster or far smaller than the median of the ones before it is suspicious."""

    factor: float = Field(default=5.0, gt=1, description="How many times faster or smaller is suspicious.")
    window: int = Field(
        default=7, ge=1, le=1000, description="How many earlier good backups form the median."
    )
    min_history: int = Field(default=3, ge=1, description="Earlier backups needed before judging.")


class SmokeQuery(Model):
    """SQL run against the restored database: its first value must be true, or at least `min`."""

    name: str = Field(default="", description="What it verifies (default: the SQL).")
    sql: str = Field(min_length=1, description="One statement; the first column of the first row is judged.")
    min: float | None = Field(
        default=None, description="The value must be a number at least this (a row count floor)."
    )

    @property
    def label(self) -> str:
        return self.name or " ".join(self.sql.split())[:80]


class PostgresRestore(Model):
    """Built in: restore the newest pg_dump file matching `dump` (or a fresh dump of `database`) into a
    scratch database on `dsn`'s server, which opsbook creates before and drops after."""

    dsn: str = Field(
        min_length=1, description="A server opsbook may create and drop databases on (use ${ENV})."
    )
    dump: str | None = Field(
        default=None, min_length=1,
        description="Path or glob of pg_dump files (custom, tar or plain SQL); the newest is used.",
    )
    database: str | None = Field(
        default=None, description="Or a database (DSN) dumped now with pg_dump, then restored (use ${ENV})."
    )
    bin_dir: str | None = Field(default=None, description="Folder of pg_restore and psql (default: PATH).")
    jobs: int = Field(default=1, ge=1, le=64, description="pg_restore --jobs (custom format only).")

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.dump is None) == (self.database is None):
            raise ValueError("give exactly one of 'dump' (files) or 'database' (dumped at the drill)")
        return self


class DrillConfig(Model):
    """A restore drill: on its own schedule, restore into a scratch target, run the smoke queries, time it."""

    schedule: Cron = Field(description="When the drill runs (cron), e.g. '0 4 * * 0' for weekly.")
    timezone: TimeZone = Field(default="UTC", description="Time zone the schedule is read in.")
    grace: Duration = Field(
        default=timedelta(hours=6), description="A drill not done this long after its time is overdue."
    )
    timeout: PositiveDuration = Field(default=timedelta(hours=2), description="Longest a restore may take.")
    postgres: PostgresRestore | None = Field(default=None, description="Built-in PostgreSQL restore.")
    command: str | None = Field(
        default=None, description="Or your restore command (exit 0: restored); $OPSBOOK_DRILL_NAME is set."
    )
    cleanup: str | None = Field(default=None, description="Command run after a `command` drill, always.")
    smoke_dsn: str | None = Field(
        default=None, description="Where the smoke queries of a `command` drill run."
    )
    env: dict[str, str] = Field(default_factory=dict, description="Environment of the commands (use ${ENV}).")
    smoke: list[SmokeQuery] = Field(default_factory=list, description="Queries the restored data must pass.")
    severity: SeverityLevel = Field(default=Severity.P2, description="Severity of a failed or overdue drill.")

    @model_validator(mode="after")
    def _one_way(self) -> Self:
        if (self.postgres is None) == (self.command is None):
            raise ValueError("a drill needs exactly one of 'postgres' (built in) or 'command'")
        if self.command is not None and self.smoke and not self.smoke_dsn:
            raise ValueError("smoke queries of a 'command' drill need 'smoke_dsn'")
        return self


class BackupJob(Model):
    """One backup job and what opsbook holds it to."""

    name: JobName
    component: str = Field(min_length=1, max_length=100, description="What it protects (e.g. 'db').")
    description: str = ""
    schedule: Cron = Field(description="When the job runs (cron).")
    timezone: TimeZone = Field(default="UTC", description="Time zone the schedule is read in.")
    grace: Duration = Field(
        default=timedelta(hours=1), description="How late after its time a backup may appear (list source)."
    )
    retention: Retention | None = Field(default=None, description="What should be kept (judged on `list`).")
    rpo: PositiveDuration | None = Field(default=None, description="Recovery point objective.")
    rto: PositiveDuration | None = Field(default=None, description="Recovery time objective (drills).")
    heartbeat: HeartbeatSource | None = Field(default=None, description="The job pings when done.")
    list: ListSource | None = Field(default=None, description="A command listing existing backups.")
    suspicious: Suspicion = Field(
        default_factory=Suspicion, description="Too fast / too small vs the median."
    )
    drill: DrillConfig | None = Field(default=None, description="The restore drill.")
    severity: SeverityLevel = Field(default=Severity.P2, description="Severity of the job's alerts.")
    runbook: ProcedureName = Field(default="", description="Procedure to follow when its alerts fire.")

    @model_validator(mode="after")
    def _source(self) -> Self:
        if self.heartbeat is None and self.list is None:
            raise ValueError("a backup job needs a 'heartbeat', a 'list' command, or both")
        return self


def _unique(jobs: list[BackupJob], info: ValidationInfo) -> list[BackupJob]:
    if jobs and any(s.name == "backups" for s in info.data.get("services") or ()):
        raise ValueError("a service is named 'backups': that name is the backup jobs' (rename the service)")
    seen: set[str] = set()
    for job in jobs:
        if job.name in seen:
            raise ValueError(f"backup job name {job.name!r} is used twice")
        seen.add(job.name)
    return jobs


Backups = Annotated[list[BackupJob], AfterValidator(_unique)]
"""The type of `OpsbookConfig.backups`."""
