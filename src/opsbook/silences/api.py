"""HTTP API of silences (`/api/v1/silences`) and maintenance windows (`/api/v1/maintenance`).

Reading needs the viewer role; creating, expiring and cancelling are the use cases of
`opsbook.silences.service` (responder role, audit-logged). Mount `router` (it holds both). Errors are
answered by the app's handler: bad matchers, an empty comment or an end before the start are 400, an
unknown id 404, expiring what has ended 409, a viewer's change 403.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from opsbook.auth.roles import Principal, Role
from opsbook.runtime import Runtime
from opsbook.silences import service, store
from opsbook.silences.matchers import matcher_from_json
from opsbook.silences.models import MaintenanceRow, SilenceRow
from opsbook.silences.store import SilenceState
from opsbook.web.deps import get_runtime, get_session, require_role
from opsbook.web.params import Id, Length, When, length_of, when_of


class MatcherIn(BaseModel):
    name: str
    op: str = Field(default="=", description="=, !=, =~ (regex) or !~")
    value: str


class MatcherOut(BaseModel):
    name: str
    op: str
    value: str


class SilenceIn(BaseModel):
    matchers: list[str | MatcherIn] = Field(
        description='Every matcher must match: "service=api", "severity=~P[23]" or {"name", "op", "value"}.'
    )
    comment: str = Field(description="Why: required, non-empty.")
    starts_at: When | None = Field(default=None, description="Default: now.")
    ends_at: When | None = Field(default=None, description="Give ends_at or duration.")
    duration: Length | None = Field(default=None, description="From starts_at, e.g. '2h'.")


class SilenceOut(BaseModel):
    id: int
    matchers: list[MatcherOut]
    starts_at: datetime
    ends_at: datetime
    state: SilenceState
    created_by: str
    comment: str
    created_at: datetime
    expired_at: datetime | None
    expired_by: str | None


class MaintenanceIn(BaseModel):
    services: list[str] = Field(min_length=1)
    title: str
    description: str = ""
    starts_at: When
    ends_at: When | None = Field(default=None, description="Give ends_at or duration.")
    duration: Length | None = None


class MaintenanceOut(BaseModel):
    id: int
    services: list[str]
    title: str
    description: str
    starts_at: datetime
    ends_at: datetime
    created_by: str
    created_at: datetime
    cancelled_at: datetime | None
    cancelled_by: str | None


class RecurringOut(BaseModel):
    name: str
    title: str
    description: str
    cron: str
    duration: str
    timezone: str
    services: list[str]
    match: dict[str, str]


class MaintenanceList(BaseModel):
    one_off: list[MaintenanceOut]
    recurring: list[RecurringOut]


class UpcomingOut(BaseModel):
    ref: str
    source: str
    title: str
    description: str
    services: list[str]
    starts_at: datetime
    ends_at: datetime
    in_progress: bool


def silence_out(row: SilenceRow, now: datetime) -> SilenceOut:
    return SilenceOut(
        id=row.id, matchers=[MatcherOut(**m) for m in row.matchers], starts_at=row.starts_at,
        ends_at=row.ends_at, state=store.silence_state(row, now), created_by=row.created_by,
        comment=row.comment, created_at=row.created_at, expired_at=row.expired_at, expired_by=row.expired_by,
    )


def maintenance_out(row: MaintenanceRow) -> MaintenanceOut:
    return MaintenanceOut(
        id=row.id, services=list(row.services), title=row.title, description=row.description,
        starts_at=row.starts_at, ends_at=row.ends_at, created_by=row.created_by, created_at=row.created_at,
        cancelled_at=row.cancelled_at, cancelled_by=row.cancelled_by,
    )


silences_router = APIRouter(prefix="/api/v1/silences", tags=["silences"])
maintenance_router = APIRouter(prefix="/api/v1/maintenance", tags=["maintenance"])

viewer = require_role(Role.VIEWER)
responder = require_role(Role.RESPONDER)  # the use cases check it too; declared here for early refusal


@silences_router.get("", response_model=list[SilenceOut])
def list_silences(
    state: SilenceState | None = Query(default=None, description="active, pending or expired; all if absent"),
    limit: int = Query(default=500, ge=1, le=5000),
    runtime: Runtime = Depends(get_runtime),
    session: Session = Depends(get_session),
    _who: Principal = Depends(viewer),
) -> list[SilenceOut]:
    now = runtime.clock.now()
    return [silence_out(row, now) for row in store.list_silences(session, now, state, limit)]


@silences_router.get("/{silence_id}", response_model=SilenceOut)
def get_silence(
    silence_id: Id,
    runtime: Runtime = Depends(get_runtime),
    session: Session = Depends(get_session),
    _who: Principal = Depends(viewer),
) -> SilenceOut:
    return silence_out(store.get_silence(session, silence_id), runtime.clock.now())


@silences_router.post("", response_model=SilenceOut, status_code=201)
def create_silence(
    body: SilenceIn,
    runtime: Runtime = Depends(get_runtime),
    who: Principal = Depends(responder),
) -> SilenceOut:
    matchers = [matcher_from_json(m.model_dump() if isinstance(m, MatcherIn) else m) for m in body.matchers]
    starts_at, ends_at = when_of(body.starts_at, runtime), when_of(body.ends_at, runtime)
    row = service.add_silence(runtime, who, matchers, comment=body.comment, starts_at=starts_at,
                              ends_at=ends_at, duration=length_of(body.duration))
    return silence_out(row, runtime.clock.now())


def _expire(silence_id: int, runtime: Runtime, who: Principal) -> SilenceOut:
    row = service.expire_silence(runtime, who, silence_id)
    return silence_out(row, runtime.clock.now())


@silences_router.delete("/{silence_id}", response_model=SilenceOut)
def delete_silence(
    silence_id: Id,
    runtime: Runtime = Depends(get_runtime),
    who: Principal = Depends(responder),
) -> SilenceOut:
    """Expire the silence now (it stays listed as expired)."""
    return _expire(silence_id, runtime, who)


@silences_router.post("/{silence_id}/expire", response_model=SilenceOut)
def expire_silence(
    silence_id: Id,
    runtime: Runtime = Depends(get_runtime),
    who: Principal = Depends(responder),
) -> SilenceOut:
    return _expire(silence_id, runtime, who)


@maintenance_router.get("", response_model=MaintenanceList)
def list_maintenance(
    include_past: bool = False,
    runtime: Runtime = Depends(get_runtime),
    session: Session = Depends(get_session),
    _who: Principal = Depends(viewer),
) -> MaintenanceList:
    """One-off windows (not ended, unless include_past) and the recurring windows of opsbook.yaml."""
    rows = store.list_maintenance(session, runtime.clock.now(), include_past)
    recurring = [
        RecurringOut(**_recurring(cfg.model_dump(mode="json"))) for cfg in runtime.config.maintenance_windows
    ]
    return MaintenanceList(one_off=[maintenance_out(r) for r in rows], recurring=recurring)


def _recurring(data: dict[str, Any]) -> dict[str, Any]:
    data["title"] = data["title"] or data["name"]
    return data


@maintenance_router.get("/upcoming", response_model=list[UpcomingOut])
def upcoming(
    days: float = Query(default=14, gt=0, le=366),
    runtime: Runtime = Depends(get_runtime),
    session: Session = Depends(get_session),
    _who: Principal = Depends(viewer),
) -> list[UpcomingOut]:
    """Maintenance in progress or starting within `days`, one-off and recurring, soonest first."""
    found = service.upcoming_maintenance(
        session, runtime.clock.now(), runtime.config.maintenance_windows, timedelta(days=days),
        services=runtime.config.services,
    )
    return [
        UpcomingOut(ref=m.ref, source=m.source, title=m.title, description=m.description,
                    services=list(m.services), starts_at=m.starts_at, ends_at=m.ends_at,
                    in_progress=m.in_progress)
        for m in found
    ]


@maintenance_router.post("", response_model=MaintenanceOut, status_code=201)
def create_maintenance(
    body: MaintenanceIn,
    runtime: Runtime = Depends(get_runtime),
    who: Principal = Depends(responder),
) -> MaintenanceOut:
    row = service.add_maintenance(runtime, who, body.services, starts_at=when_of(body.starts_at, runtime),
                                  title=body.title,
                                  ends_at=when_of(body.ends_at, runtime), duration=length_of(body.duration),
                                  description=body.description)
    return maintenance_out(row)


@maintenance_router.get("/{window_id}", response_model=MaintenanceOut)
def get_maintenance(
    window_id: Id,
    session: Session = Depends(get_session),
    _who: Principal = Depends(viewer),
) -> MaintenanceOut:
    return maintenance_out(store.get_maintenance(session, window_id))


@maintenance_router.delete("/{window_id}", response_model=MaintenanceOut)
def cancel_maintenance(
    window_id: Id,
    runtime: Runtime = Depends(get_runtime),
    who: Principal = Depends(responder),
) -> MaintenanceOut:
    """Cancel a one-off window (one in progress ends now)."""
    return maintenance_out(service.remove_maintenance(runtime, who, window_id))


router = APIRouter()
router.include_router(silences_router)
router.include_router(maintenance_router)
