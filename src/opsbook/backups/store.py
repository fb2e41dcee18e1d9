"""Reading and writing the backups domain's rows, inside the caller's transaction.

`record_heartbeats` is the result writer's hook: a backup job's ping (done or failed) becomes a backup
row in the transaction that stores the ping's result; a missed ping is no backup and is left alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from opsbook.backups.assess import Backup, Drill
from opsbook.backups.checks import SERVICE
from opsbook.backups.config import BackupJob
from opsbook.backups.listing import Listed
from opsbook.backups.models import BackupJobRow, BackupRow, DrillRow
from opsbook.checks.heartbeat_watch import MISSED_PREFIX
from opsbook.checks.result import StoredResult
from opsbook.events import DomainEvent, Topic, emit

HISTORY = 1000
"""Backups read per job: enough for the median window and any listing."""


def job_rows(session: Session, jobs: Sequence[BackupJob], now: datetime) -> dict[str, BackupJobRow]:
    """Each job's row, made on first sight (`watched_since` = now)."""
    rows = {r.name: r for r in session.scalars(select(BackupJobRow).where(
        BackupJobRow.name.in_([j.name for j in jobs])))}
    for job in jobs:
        if job.name not in rows:
            rows[job.name] = BackupJobRow(name=job.name, watched_since=now, listed_at=None, list_error="")
            session.add(rows[job.name])
    session.flush()
    return rows


def backups_of(session: Session, job: str) -> list[Backup]:
    """The job's newest backups (at most HISTORY), oldest first."""
    rows = session.scalars(
        select(BackupRow).where(BackupRow.job == job).order_by(BackupRow.ts.desc(), BackupRow.id.desc())
        .limit(HISTORY)
    ).all()
    return [Backup(r.ts, r.ok, r.duration_s, r.size_bytes, r.present, r.source) for r in reversed(rows)]


def last_drill(session: Session, job: str) -> DrillRow | None:
    return session.scalars(
        select(DrillRow).where(DrillRow.job == job).order_by(DrillRow.started_at.desc(), DrillRow.id.desc())
        .limit(1)
    ).first()


def as_drill(row: DrillRow | None) -> Drill | None:
    return None if row is None else Drill(row.started_at, row.ok, row.rto_s, row.error)


def drills(session: Session, job: str | None = None, limit: int = 50) -> list[DrillRow]:
    query = select(DrillRow).order_by(DrillRow.started_at.desc(), DrillRow.id.desc()).limit(limit)
    if job is not None:
        query = query.where(DrillRow.job == job)
    return list(session.scalars(query))


def record_heartbeats(session: Session, jobs: Sequence[BackupJob], batch: Iterable[StoredResult],
                      now: datetime) -> int:
    """Backups from the pings of backup jobs in a batch of results (the writer's hook); returns how many."""
    by_check = {f"{SERVICE}/{j.name}": j for j in jobs if j.heartbeat is not None}
    added = 0
    for stored in batch:
        job = by_check.get(stored.check_id)
        if job is None or stored.result.message.startswith(MISSED_PREFIX):
            continue
        values = stored.result.values
        session.add(BackupRow(
            job=job.name, ts=stored.ts, ok=stored.result.ok, duration_s=values.get("duration_s"),
            size_bytes=values.get("size_bytes"), source="heartbeat", ident=None, present=True,
            message=stored.result.message[:2000], recorded_at=now,
        ))
        added += 1
    if added:
        emit(session, DomainEvent(Topic.BACKUPS, "recorded", "backups", {"count": added}))
    return added


def import_listing(session: Session, job: BackupJob, listed: Sequence[Listed], now: datetime) -> int:
    """Make the job's listed backups what the listing shows: new ones added, gone ones no longer present.
    Returns how many were new."""
    known = {r.ident: r for r in session.scalars(
        select(BackupRow).where(BackupRow.job == job.name, BackupRow.source == "list"))}
    seen = set()
    new = 0
    for item in listed:
        seen.add(item.ident)
        row = known.get(item.ident)
        if row is None:
            session.add(BackupRow(job=job.name, ts=item.ts, ok=item.ok, duration_s=None,
                                  size_bytes=item.size_bytes, source="list", ident=item.ident, present=True,
                                  message="", recorded_at=now))
            new += 1
        elif not row.present or row.ok != item.ok or row.size_bytes != item.size_bytes:
            row.present, row.ok, row.size_bytes = True, item.ok, item.size_bytes
    gone = [ident for ident, row in known.items() if row.present and ident not in seen]
    if gone:
        session.execute(update(BackupRow).where(BackupRow.job == job.name, BackupRow.ident.in_(gone))
                        .values(present=False))
    return new
