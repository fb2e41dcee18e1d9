"""Backup jobs as checks of the pipeline (DESIGN.md: backups are check kinds, not a pipeline of their own).

Each job becomes up to three checks of the service `backups`, with rules of the job's severity:

- `backups/<job>`: the job's heartbeat (when it has one): a missed or failed ping is a failure;
- `backups/<job>-state`: what opsbook judges of the backups (RPO now against the target, a backup far
  faster or smaller than the median, retention kept, a missed schedule for a listed job); its results
  are recorded by the backup watch (`backups.watch`) at the instants they change;
- `backups/<job>-drill`: the restore drill: failed, overdue, or slower than the RTO target.

The derived checks are push kinds: the scheduler never runs them, the backup watch records their results.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from opsbook.backups.config import BackupJob
from opsbook.checks.kinds.heartbeat import HeartbeatCheck
from opsbook.checks.spec import CheckSpec
from opsbook.config.types import format_duration
from opsbook.rules.config import RuleConfig

SERVICE = "backups"
"""The service every backup check belongs to."""


class BackupStateCheck(CheckSpec):
    """RPO, suspicious backups, retention and missed schedule of one job (results pushed by the watch)."""

    kind: Literal["backup"]
    job: str
    push: ClassVar[bool] = True

    def target(self) -> str:
        return f"backup job {self.job}"


class BackupDrillCheck(CheckSpec):
    """The restore drill of one job (results pushed by the watch after each drill and when one is due)."""

    kind: Literal["backup-drill"]
    job: str
    push: ClassVar[bool] = True

    def target(self) -> str:
        return f"restore drill of {self.job}"


def state_check_name(job: str) -> str:
    return f"{job}-state"


def drill_check_name(job: str) -> str:
    return f"{job}-drill"


def _plain(text: str) -> str:
    """Config text inside a rule summary (a Jinja2 template): no template syntax."""
    return text.replace("{", "(").replace("}", ")")


def _rule(job: BackupJob, name: str, when: str, summary: str, severity: object = None) -> RuleConfig:
    return RuleConfig.model_validate({
        "name": name, "when": when, "severity": severity or job.severity, "runbook": job.runbook,
        "summary": _plain(f"Backup {job.name} of {job.component}: {summary}") + ": {{ detail }}",
        "labels": {"component": job.component, "backup_job": job.name},
    })


def derived_checks(jobs: list[BackupJob]) -> list[CheckSpec]:
    """The checks of the `backups` service for these jobs."""
    out: list[CheckSpec] = []
    for job in jobs:
        labels = {"component": job.component, "backup_job": job.name}
        if job.heartbeat is not None:
            out.append(HeartbeatCheck(
                kind="heartbeat", name=job.name, description=f"Backup heartbeat of {job.component}",
                cron=job.schedule, timezone=job.timezone, grace=job.heartbeat.grace,
                token=job.heartbeat.token, labels=labels, failures=0,
                rules=[_rule(job, "backup-missed", "failures >= 1", "the backup did not report success")],
            ))
        rules = [_rule(job, "suspicious", "suspicious > 0", "suspiciously fast or small backup")]
        if job.rpo is not None:
            rules.append(_rule(job, "rpo", "rpo_breached > 0",
                               f"newest good backup older than the RPO target {format_duration(job.rpo)}"))
        if job.list is not None:
            rules.append(_rule(job, "retention", "retention_violations > 0", "retention policy not kept"))
            if job.heartbeat is None:
                rules.append(_rule(job, "schedule-missed", "missed > 0", "no backup at its scheduled time"))
        out.append(BackupStateCheck(
            kind="backup", name=state_check_name(job.name), job=job.name, labels=labels, failures=0,
            description=f"Backups of {job.component}: RPO, size and duration, retention", rules=rules,
        ))
        if job.drill is not None:
            sev = job.drill.severity
            drill_rules = [
                _rule(job, "drill-failed", "drill_failed > 0", "restore drill failed", sev),
                _rule(job, "drill-overdue", "drill_overdue > 0", "restore drill overdue", sev),
            ]
            if job.rto is not None:
                slow = f"restore took longer than the RTO target {format_duration(job.rto)}"
                drill_rules.append(_rule(job, "rto", "rto_exceeded > 0", slow, sev))
            out.append(BackupDrillCheck(
                kind="backup-drill", name=drill_check_name(job.name), job=job.name, labels=labels, failures=0,
                description=f"Restore drill of {job.component}", rules=drill_rules,
            ))
    return out
