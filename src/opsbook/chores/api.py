"""HTTP API of recurring chores (`/api/v1/chores`): the chores with their open occurrence and next due
time, the occurrences, and marking one done or skipped (responder role, audit-logged). An unknown
occurrence is 404, one already closed 409, a skip without a reason 400."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from opsbook.auth.roles import Principal, Role
from opsbook.chores import service
from opsbook.chores.models import ChoreDueRow
from opsbook.runtime import Runtime
from opsbook.web.deps import get_runtime, require_role
from opsbook.web.params import Id


class OccurrenceOut(BaseModel):
    id: int
    chore: str
    procedure: str
    status: str = Field(description="due, overdue, done or skipped")
    assignee: str | None
    due_at: datetime
    deadline: datetime
    reminded_at: datetime | None
    closed_at: datetime | None
    closed_by: str | None
    run_id: int | None
    oplog_entry: int | None
    reason: str


class ChoreOut(BaseModel):
    name: str
    procedure: str
    schedule: str
    timezone: str
    assignee: str = Field(description="'on call: SCHEDULE' or the user")
    next_due: datetime
    open: OccurrenceOut | None


class NoteIn(BaseModel):
    note: str = Field(default="", description="How it was done (done) / why not (skip: required).")


def occurrence_out(row: ChoreDueRow) -> OccurrenceOut:
    return OccurrenceOut(
        id=row.id, chore=row.chore, procedure=row.procedure, status=row.status, assignee=row.assignee,
        due_at=row.due_at, deadline=row.deadline, reminded_at=row.reminded_at, closed_at=row.closed_at,
        closed_by=row.closed_by, run_id=row.run_id, oplog_entry=row.oplog_entry, reason=row.reason,
    )


router = APIRouter(prefix="/api/v1/chores", tags=["chores"])
viewer = require_role(Role.VIEWER)
responder = require_role(Role.RESPONDER)


@router.get("", response_model=list[ChoreOut])
def list_chores(runtime: Runtime = Depends(get_runtime), _who: Principal = Depends(viewer)) -> list[ChoreOut]:
    return [
        ChoreOut(
            name=v.config.name, procedure=v.config.procedure, schedule=v.config.schedule,
            timezone=v.config.timezone or runtime.config.timezone, assignee=service.assignee_label(v.config),
            next_due=v.next_due, open=occurrence_out(v.open) if v.open is not None else None,
        )
        for v in service.views(runtime)
    ]


@router.get("/occurrences", response_model=list[OccurrenceOut])
def list_occurrences(
    limit: int = Query(default=50, ge=1, le=1000),
    runtime: Runtime = Depends(get_runtime),
    _who: Principal = Depends(viewer),
) -> list[OccurrenceOut]:
    return [occurrence_out(row) for row in service.occurrences(runtime, limit)]


@router.post("/occurrences/{due_id}/done", response_model=OccurrenceOut)
def done(
    due_id: Id, body: NoteIn, runtime: Runtime = Depends(get_runtime), who: Principal = Depends(responder)
) -> OccurrenceOut:
    return occurrence_out(service.mark_done(runtime, who, due_id, body.note))


@router.post("/occurrences/{due_id}/skip", response_model=OccurrenceOut)
def skip(
    due_id: Id, body: NoteIn, runtime: Runtime = Depends(get_runtime), who: Principal = Depends(responder)
) -> OccurrenceOut:
    return occurrence_out(service.skip(runtime, who, due_id, body.note))
