"""HTTP API of backups: the DR table (`GET /api/v1/backups`), a job with its backups and drills, and
running a drill now (`POST /api/v1/backups/{job}/drill`, responder; it answers when the drill is done).

Times are ISO 8601 UTC; durations are seconds. An unknown job is 404; a job without a drill 400.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.auth.roles import Principal, Role
from opsbook.backups import service, store
from opsbook.backups.models import BackupRow, DrillRow
from opsbook.runtime import Runtime
from opsbook.web.deps import get_runtime, get_session, require_role
from opsbook.web.params import Limit

router = APIRouter(prefix="/api/v1/backups", tags=["backups"])
JobName = Path(pattern=r"^[a-z0-9][a-z0-9_\-]*$", max_length=64, description="The backup job's name.")


class DrOut(BaseModel):
    job: str
    component: str
    rto_target_s: float | None
    last_rto_s: float | None
    rpo_target_s: float | None
    rpo_now_s: float | None
    last_drill_at: datetime | None
    last_drill_ok: bool | None
    verdict: str
    problems: list[str]


class BackupOut(BaseModel):
    ts: datetime
    ok: bool
    duration_s: float | None
    size_bytes: float | None
    source: str
    present: bool
    message: str


class DrillOut(BaseModel):
    id: int
    job: str
    started_at: datetime
    finished_at: datetime
    ok: bool
    rto_s: float | None
    rto_target_s: float | None
    restored: str
    scratch: str
    scratch_dropped: bool
    error: str
    output: str
    trigger: str
    operator: str
    oplog_id: int | None


class JobOut(BaseModel):
    dr: DrOut
    backups: list[BackupOut]
    drills: list[DrillOut]


def dr_out(row: service.DrRow) -> DrOut:
    return DrOut(
        job=row.job, component=row.component,
        rto_target_s=row.rto_target.total_seconds() if row.rto_target else None, last_rto_s=row.last_rto_s,
        rpo_target_s=row.rpo_target.total_seconds() if row.rpo_target else None,
        rpo_now_s=row.rpo_now.total_seconds() if row.rpo_now is not None else None,
        last_drill_at=row.last_drill, last_drill_ok=row.last_drill_ok, verdict=row.verdict,
        problems=list(row.problems),
    )


def drill_out(row: DrillRow) -> DrillOut:
    return DrillOut(
        id=row.id, job=row.job, started_at=row.started_at, finished_at=row.finished_at, ok=row.ok,
        rto_s=row.rto_s, rto_target_s=row.rto_target_s, restored=row.restored, scratch=row.scratch,
        scratch_dropped=row.scratch_dropped, error=row.error, output=row.output, trigger=row.trigger,
        operator=row.operator, oplog_id=row.oplog_id,
    )


@router.get("", response_model=list[DrOut])
def dr_table(
    runtime: Runtime = Depends(get_runtime), _: Principal = Depends(require_role(Role.VIEWER))
) -> list[DrOut]:
    """The DR table: per job, component, RTO target and last measured RTO, RPO target and RPO now, last
    drill and verdict."""
    return [dr_out(r) for r in service.dr_report(runtime)]


@router.get("/{job}", response_model=JobOut)
def backup_job(
    job: str = JobName,
    limit: Limit = 50,
    runtime: Runtime = Depends(get_runtime),
    session: Session = Depends(get_session),
    _: Principal = Depends(require_role(Role.VIEWER)),
) -> JobOut:
    """One job: its DR line, its newest backups and drills."""
    service.job_of(runtime, job)
    dr = next(r for r in service.dr_report(runtime) if r.job == job)
    rows = session.scalars(select(BackupRow).where(BackupRow.job == job)
                           .order_by(BackupRow.ts.desc(), BackupRow.id.desc()).limit(limit))
    backups = [BackupOut(ts=r.ts, ok=r.ok, duration_s=r.duration_s, size_bytes=r.size_bytes, source=r.source,
                         present=r.present, message=r.message) for r in rows]
    drills = [drill_out(d) for d in store.drills(session, job, limit)]
    return JobOut(dr=dr_out(dr), backups=backups, drills=drills)


@router.post("/{job}/drill", response_model=DrillOut)
def drill_now(
    job: str = JobName,
    runtime: Runtime = Depends(get_runtime),
    actor: Principal = Depends(require_role(Role.RESPONDER)),
) -> DrillOut:
    """Run the job's restore drill now; the answer is the drill recorded (a failed restore: 200, ok false)."""
    return drill_out(service.run_drill(runtime, actor, job))
