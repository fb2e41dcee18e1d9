"""What opsbook judges of a backup job at an instant, pure: the backups known, the drills run, the config.

- RPO now: the age of the newest good backup, against the job's `rpo` (breached from the instant
  newest + rpo; a job with no backup yet counts from when opsbook began watching it);
- suspicious: the newest good backup took `factor` times less time, or is `factor` times smaller, than
  the median of the `window` good backups before it (once `min_history` of them exist);
- retention (listed jobs): listed backups older than `days` (+ grace) should be gone; fewer kept than
  the schedule made within the policy (at least `count` when given); with `count` alone, more than
  `count` kept;
- missed (listed jobs without a heartbeat): no backup by the first scheduled time after the newest one,
  plus grace;
- drills: the last one failed; none since the drill's last scheduled time, `grace` later (overdue); the
  last one took longer than the RTO target.

Each assessment also says when it next changes by the clock alone (`next_change`), so the watch records
a result at exactly that instant. Times in its messages are in the team's zone, named.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

from opsbook.backups.config import BackupJob, DrillConfig
from opsbook.checks.result import CheckResult
from opsbook.config.types import format_duration
from opsbook.timefmt import show_span, show_time

MAX_OCCURRENCES = 10_000


@dataclass(frozen=True)
class Backup:
    ts: datetime
    ok: bool = True
    duration_s: float | None = None
    size_bytes: float | None = None
    present: bool = True
    source: str = "heartbeat"


@dataclass(frozen=True)
class Drill:
    started_at: datetime
    ok: bool
    rto_s: float | None
    error: str = ""


def next_time(cron: str, timezone: str, after: datetime) -> datetime:
    """The first time of `cron` (read in `timezone`) after `after`, in `after`'s zone."""
    nxt: datetime = croniter(cron, after.astimezone(ZoneInfo(timezone))).get_next(datetime)
    return nxt.astimezone(after.tzinfo)


def prev_time(cron: str, timezone: str, before: datetime) -> datetime:
    """The last time of `cron` at or before `before`."""
    probe = before + timedelta(seconds=1)
    prev: datetime = croniter(cron, probe.astimezone(ZoneInfo(timezone))).get_prev(datetime)
    return prev.astimezone(before.tzinfo)


def count_times(cron: str, timezone: str, start: datetime, end: datetime) -> int:
    """How many times of `cron` fall in (start, end] (at most MAX_OCCURRENCES)."""
    count, t = 0, start
    while count < MAX_OCCURRENCES:
        t = next_time(cron, timezone, t)
        if t > end:
            break
        count += 1
    return count


def human_size(size: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size:.0f} B"


def human_age(delta: timedelta) -> str:
    """`1 d 2 h`, as opsbook shows lengths of time everywhere."""
    return show_span(timedelta(seconds=round(delta.total_seconds())))


@dataclass
class Assessment:
    """One job's state at `now`: the problems found, and the values its check's rules read."""

    now: datetime
    newest_good: datetime | None = None
    rpo_now: timedelta | None = None
    rpo_breached: bool = False
    suspicious: str = ""
    retention: list[str] = field(default_factory=list)
    missed: str = ""
    kept: int | None = None
    last: Backup | None = None
    changes: list[datetime] = field(default_factory=list)

    @property
    def next_change(self) -> datetime | None:
        future = [t for t in self.changes if t > self.now]
        return min(future) if future else None

    def problems(self) -> list[str]:
        out = []
        if self.rpo_breached:
            age = human_age(self.rpo_now) if self.rpo_now is not None else "no good backup yet"
            out.append(f"RPO breached: newest good backup {age} old" if self.rpo_now is not None
                       else f"RPO breached: {age}")
        out += [s for s in (self.suspicious, self.missed) if s]
        out += self.retention
        return out

    def result(self) -> CheckResult:
        values: dict[str, float] = {
            "rpo_breached": float(self.rpo_breached), "suspicious": float(bool(self.suspicious)),
            "retention_violations": float(len(self.retention)), "missed": float(bool(self.missed)),
        }
        if self.rpo_now is not None:
            values["rpo_s"] = self.rpo_now.total_seconds()
        if self.kept is not None:
            values["backups_kept"] = float(self.kept)
        if self.last is not None and self.last.size_bytes is not None:
            values["size_bytes"] = self.last.size_bytes
        if self.last is not None and self.last.duration_s is not None:
            values["duration_s"] = self.last.duration_s
        problems = self.problems()
        if problems:
            return CheckResult.down("; ".join(problems), **values)
        age = "no backup yet"
        if self.rpo_now is not None:
            age = f"newest good backup {human_age(self.rpo_now)} old"
        return CheckResult.up(message=age, **values)


def assess(job: BackupJob, backups: Sequence[Backup], watched_since: datetime, now: datetime,
           listed: bool = False, *, zone: str) -> Assessment:
    """Judge `job` at `now` from its `backups` (oldest first); `listed`: a listing has been read; times in
    the messages in the team's `zone`."""
    backups = [b for b in backups if b.ts <= now]
    out = Assessment(now=now, last=backups[-1] if backups else None)
    good = [b for b in backups if b.ok]
    _rpo(job, good, watched_since, out)
    out.suspicious = suspicious(job, good, zone=zone)
    if job.list is not None and listed:
        _retention(job, [b for b in backups if b.present and b.source == "list"], watched_since, out, zone)
    if job.heartbeat is None:
        _missed(job, backups, watched_since, out, zone)
    return out


def _rpo(job: BackupJob, good: list[Backup], watched_since: datetime, out: Assessment) -> None:
    if good:
        out.newest_good = good[-1].ts
        out.rpo_now = out.now - good[-1].ts
    if job.rpo is not None:
        breach_at = (out.newest_good or watched_since) + job.rpo
        out.rpo_breached = out.now >= breach_at
        out.changes.append(breach_at)


def suspicious(job: BackupJob, good: Sequence[Backup], *, zone: str) -> str:
    """Why the newest good backup is suspicious (faster or smaller than the median), or ''."""
    if len(good) < 2:
        return ""
    newest, earlier = good[-1], list(good[:-1])[-job.suspicious.window:]
    factor = job.suspicious.factor
    found = []
    durations = [b.duration_s for b in earlier if b.duration_s is not None]
    if newest.duration_s is not None and len(durations) >= job.suspicious.min_history:
        median = statistics.median(durations)
        if median > 0 and newest.duration_s * factor <= median:
            found.append(f"took {newest.duration_s:.0f} s against a median of {median:.0f} s")
    sizes = [b.size_bytes for b in earlier if b.size_bytes is not None]
    if newest.size_bytes is not None and len(sizes) >= job.suspicious.min_history:
        median = statistics.median(sizes)
        if median > 0 and newest.size_bytes * factor <= median:
            found.append(f"is {human_size(newest.size_bytes)} against a median of {human_size(median)}")
    if not found:
        return ""
    return (f"suspicious backup at {show_time(newest.ts, zone)}: it " + " and ".join(found)
            + f" (the last {len(earlier)})")


def _retention(job: BackupJob, present: list[Backup], watched_since: datetime, out: Assessment,
               zone: str) -> None:
    policy = job.retention
    out.kept = len(present)
    if policy is None:
        return
    now = out.now
    if policy.days is not None:
        keep_for = timedelta(days=policy.days) + job.grace
        too_old = [b for b in present if b.ts < now - keep_for]
        if too_old:
            out.retention.append(f"{len(too_old)} backup(s) older than the {policy.days}-day retention still "
                                 f"kept (oldest {show_time(too_old[0].ts, zone)})")
        out.changes += [b.ts + keep_for for b in present]
        window_start = now - timedelta(days=policy.days)
    else:
        window_start = watched_since
    if policy.count is not None and policy.days is None and len(present) > policy.count:
        out.retention.append(f"{len(present)} backups kept, the policy keeps {policy.count}")
    oldest = present[0].ts if present else watched_since
    start = max(window_start, min(watched_since, oldest - timedelta(seconds=1)))
    expected = count_times(job.schedule, job.timezone, start, now - job.grace)
    if policy.count is not None:
        expected = min(expected, policy.count)
    kept_good = len([b for b in present if b.ok and b.ts > window_start])
    if kept_good < expected:
        out.retention.append(f"only {kept_good} good backup(s) kept where the schedule and policy expect "
                             f"{expected}")
    out.changes.append(next_time(job.schedule, job.timezone, now - job.grace) + job.grace)


def _missed(job: BackupJob, backups: list[Backup], watched_since: datetime, out: Assessment,
            zone: str) -> None:
    reference = backups[-1].ts if backups else watched_since
    expected = next_time(job.schedule, job.timezone, reference)
    deadline = expected + job.grace
    out.changes.append(deadline)
    if out.now >= deadline:
        out.missed = (f"missed schedule: no backup since {show_time(reference, zone)}; one was due at "
                      f"{show_time(expected, zone)} (grace {format_duration(job.grace)})")


# --- drills ---------------------------------------------------------------------------------------


@dataclass
class DrillState:
    now: datetime
    last: Drill | None
    zone: str
    failed: bool = False
    overdue: str = ""
    rto_exceeded: bool = False
    rto_target: timedelta | None = None
    next_change: datetime | None = None

    def result(self, output_tail: str = "") -> CheckResult:
        values: dict[str, float] = {
            "drill_failed": float(self.failed), "drill_overdue": float(bool(self.overdue)),
            "rto_exceeded": float(self.rto_exceeded),
        }
        if self.last is not None and self.last.rto_s is not None:
            values["rto_s"] = self.last.rto_s
        if self.rto_target is not None:
            values["rto_target_s"] = self.rto_target.total_seconds()
        problems = []
        if self.failed and self.last is not None:
            problems.append(f"restore drill of {show_time(self.last.started_at, self.zone)} failed: "
                            f"{self.last.error}" + (f"\n{output_tail}" if output_tail else ""))
        if self.overdue:
            problems.append(self.overdue)
        if self.rto_exceeded and self.last is not None and self.rto_target is not None:
            problems.append(f"restore took {self.last.rto_s:.1f} s, over the RTO target "
                            f"{format_duration(self.rto_target)}")
        if problems:
            return CheckResult.down("; ".join(problems), **values)
        if self.last is None:
            return CheckResult.up(message="no drill yet", **values)
        return CheckResult.up(message=f"last drill {show_time(self.last.started_at, self.zone)} passed, "
                                      f"RTO {self.last.rto_s or 0:.1f} s", **values)


def drill_state(drill: DrillConfig, rto: timedelta | None, last: Drill | None, watched_since: datetime,
                now: datetime, *, zone: str) -> DrillState:
    """The drill's state at `now` from the last drill run (None: none yet); times said in `zone`."""
    state = DrillState(now=now, last=last, zone=zone, rto_target=rto)
    state.failed = last is not None and not last.ok
    state.rto_exceeded = bool(last is not None and last.ok and rto is not None and last.rto_s is not None
                              and last.rto_s > rto.total_seconds())
    due = prev_time(drill.schedule, drill.timezone, now - drill.grace)
    if due >= watched_since and (last is None or last.started_at < due):
        state.overdue = (f"restore drill overdue: none since the one due {show_time(due, zone)} "
                         f"(grace {format_duration(drill.grace)})")
    state.next_change = next_time(drill.schedule, drill.timezone, now - drill.grace) + drill.grace
    return state
