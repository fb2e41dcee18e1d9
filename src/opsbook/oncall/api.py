"""HTTP API of on-call (`/api/v1/oncall`): who is on call, shifts, gaps, overrides, handoff notes, iCal feeds.

Reading needs the viewer role; creating or removing overrides and writing handoff notes are the use cases
of `opsbook.oncall.service` (responder role, audit-logged). Errors are answered by the app's handler: an
unknown schedule, user or override in the path is 404, bad input 400. The iCalendar feeds
(`/schedules/{name}.ics`, `/users/{name}.ics`) also accept the token as `?token=`, since calendar apps
cannot send headers. Mount `router`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from opsbook.auth.callers import token_caller
from opsbook.auth.roles import Principal, Role
from opsbook.config.types import format_duration
from opsbook.errors import Invalid
from opsbook.oncall import feeds, service, store
from opsbook.oncall.models import HandoffNoteRow, OverrideRow
from opsbook.oncall.rotation import Shift
from opsbook.runtime import Runtime
from opsbook.web.deps import current_principal, get_runtime, get_session, require_role
from opsbook.web.params import Id, When, query_when, when_of, when_query

MAX_RANGE = timedelta(days=400)

router = APIRouter(prefix="/api/v1/oncall", tags=["oncall"])
viewer = require_role(Role.VIEWER)
responder = require_role(Role.RESPONDER)  # the use cases check it too; declared here for early refusal
_bearer = HTTPBearer(auto_error=False)


class ShiftOut(BaseModel):
    user: str
    start: datetime
    end: datetime
    override: bool
    sources: list[str]


class LayerOut(BaseModel):
    name: str
    users: list[str]
    turn: str
    handoff: str
    start: str
    end: str | None
    restricted: bool


class ScheduleOut(BaseModel):
    name: str
    description: str
    timezone: str
    layers: list[LayerOut]


class OnCallOut(BaseModel):
    schedule: str
    timezone: str
    at: datetime
    user: str | None
    current: ShiftOut | None
    previous: ShiftOut | None
    next: ShiftOut | None


class UserShiftOut(ShiftOut):
    schedule: str


class GapOut(BaseModel):
    schedule: str
    start: datetime
    end: datetime


class OverrideIn(BaseModel):
    schedule: str
    user: str = Field(description="Who is on call instead.")
    start: When = Field(description="From (read in the schedule's time zone when it has no offset).")
    end: When = Field(description="Until (read in the schedule's time zone when it has no offset).")
    covers: str | None = Field(default=None, description="Whom `user` stands in for (a note).")
    reason: str = ""


class OverrideOut(BaseModel):
    id: int
    schedule: str
    user: str
    covers: str | None
    start: datetime
    end: datetime
    reason: str
    created_at: datetime
    created_by: str


class NoteIn(BaseModel):
    schedule: str
    note: str = Field(min_length=1)


class NoteOut(BaseModel):
    id: int
    schedule: str
    author: str
    note: str
    created_at: datetime


class HandoffOut(BaseModel):
    schedule: str
    timezone: str
    user: str
    shift: ShiftOut
    previous: ShiftOut | None
    next: ShiftOut | None
    notes: list[NoteOut]


def shift_out(shift: Shift | None) -> ShiftOut | None:
    if shift is None:
        return None
    return ShiftOut(user=shift.user, start=shift.start, end=shift.end, override=shift.is_override,
                    sources=list(shift.sources))


def _shift(shift: Shift) -> ShiftOut:
    out = shift_out(shift)
    assert out is not None
    return out


def override_out(row: OverrideRow) -> OverrideOut:
    return OverrideOut(id=row.id, schedule=row.schedule, user=row.user, covers=row.covers, start=row.start,
                       end=row.end, reason=row.reason, created_at=row.created_at, created_by=row.created_by)


def note_out(row: HandoffNoteRow) -> NoteOut:
    return NoteOut(id=row.id, schedule=row.schedule, author=row.author, note=row.note,
                   created_at=row.created_at)


def _range(
    runtime: Runtime, start: str | None, end: str | None, days: int, zone: str | None = None
) -> tuple[datetime, datetime]:
    """The `start` and `end` query parameters as instants (without an offset: on `zone`'s wall clock,
    default the team's); `start` by default now, `end` `days` after it."""
    begin = query_when("start", start, runtime, zone) or runtime.clock.now()
    finish = query_when("end", end, runtime, zone) or begin + timedelta(days=days)
    if finish <= begin:
        raise Invalid("end must be after start")
    if finish - begin > MAX_RANGE:
        raise Invalid("ask for 400 days at most")
    return begin, finish


@router.get("/schedules", response_model=list[ScheduleOut])
def list_schedules(
    runtime: Runtime = Depends(get_runtime), _who: Principal = Depends(viewer)
) -> list[ScheduleOut]:
    return [
        ScheduleOut(name=s.name, description=s.description, timezone=s.timezone, layers=[
            LayerOut(name=layer.name, users=list(layer.users), turn=format_duration(layer.turn),
                     handoff=str(layer.handoff), start=layer.start.isoformat(),
                     end=layer.end.isoformat() if layer.end else None, restricted=bool(layer.restrictions))
            for layer in s.layers
        ])
        for s in runtime.config.schedules
    ]


@router.get("/now", response_model=list[OnCallOut])
def now(
    schedule: str | None = Query(default=None, description="One schedule; every schedule if absent."),
    at: str | None = when_query("Another moment than now."),
    runtime: Runtime = Depends(get_runtime),
    session: Session = Depends(get_session),
    _who: Principal = Depends(viewer),
) -> list[OnCallOut]:
    """Who is on call (at `at`, default now), since and until when, who was before and who is next."""
    moment = query_when("at", at, runtime) or runtime.clock.now()
    found = service.on_call_now(session, runtime.config, moment, schedule)
    return [
        OnCallOut(schedule=n.schedule, timezone=n.timezone, at=n.at,
                  user=n.current.user if n.current else None, current=shift_out(n.current),
                  previous=shift_out(n.previous), next=shift_out(n.next))
        for n in found
    ]


@router.get("/schedules/{name}/shifts", response_model=list[ShiftOut])
def schedule_shifts(
    name: str,
    start: str | None = when_query("Default: now.", zone="the schedule's time zone"),
    end: str | None = when_query("Default: 7 days after start.", zone="the schedule's time zone"),
    runtime: Runtime = Depends(get_runtime),
    session: Session = Depends(get_session),
    _who: Principal = Depends(viewer),
) -> list[ShiftOut]:
    """The final shifts (layers, restrictions and overrides merged) over [start, end); gaps are left out."""
    begin, finish = _range(runtime, start, end, 7, store.schedule_zone(runtime.config, name))
    return [_shift(s) for s in service.schedule_shifts(session, runtime.config, name, begin, finish)]


@router.get("/users/{name}/shifts", response_model=list[UserShiftOut])
def user_shifts(
    name: str,
    start: str | None = when_query("Default: now."),
    end: str | None = when_query("Default: 30 days after start."),
    runtime: Runtime = Depends(get_runtime),
    session: Session = Depends(get_session),
    _who: Principal = Depends(viewer),
) -> list[UserShiftOut]:
    begin, finish = _range(runtime, start, end, 30)
    found = service.user_shifts(session, runtime.config, name, begin, finish)
    return [UserShiftOut(schedule=sched, **_shift(s).model_dump()) for sched, s in found]


@router.get("/gaps", response_model=list[GapOut])
def gaps(
    days: int = Query(default=14, ge=1, le=366),
    schedule: str | None = Query(default=None),
    runtime: Runtime = Depends(get_runtime),
    session: Session = Depends(get_session),
    _who: Principal = Depends(viewer),
) -> list[GapOut]:
    """Stretches of the next `days` days with nobody on call."""
    found = service.upcoming_gaps(session, runtime.config, runtime.clock.now(), days, schedule)
    return [GapOut(schedule=g.schedule, start=g.start, end=g.end) for g in found]


@router.get("/overrides", response_model=list[OverrideOut])
def list_overrides(
    schedule: str | None = Query(default=None),
    include_past: bool = Query(default=False, description="Also overrides that have ended."),
    runtime: Runtime = Depends(get_runtime),
    session: Session = Depends(get_session),
    _who: Principal = Depends(viewer),
) -> list[OverrideOut]:
    since = None if include_past else runtime.clock.now()
    return [override_out(r) for r in service.list_overrides(session, schedule, since=since)]


@router.post("/overrides", response_model=OverrideOut, status_code=201)
def create_override(
    body: OverrideIn,
    runtime: Runtime = Depends(get_runtime),
    who: Principal = Depends(responder),
) -> OverrideOut:
    """`user` is on call on `schedule` over [start, end), over every layer."""
    zone = store.schedule_zone(runtime.config, body.schedule)
    start, end = when_of(body.start, runtime, zone), when_of(body.end, runtime, zone)
    row = service.add_override(runtime, who, body.schedule, body.user, start, end, covers=body.covers,
                               reason=body.reason)
    return override_out(row)


@router.delete("/overrides/{override_id}", response_model=OverrideOut)
def delete_override(
    override_id: Id,
    runtime: Runtime = Depends(get_runtime),
    who: Principal = Depends(responder),
) -> OverrideOut:
    return override_out(service.remove_override(runtime, who, override_id))


@router.get("/handoffs", response_model=list[NoteOut])
def list_notes(
    schedule: str | None = Query(default=None),
    limit: int = Query(default=50, ge=1, le=1000),
    session: Session = Depends(get_session),
    _who: Principal = Depends(viewer),
) -> list[NoteOut]:
    """Handoff notes, newest first."""
    return [note_out(r) for r in service.handoff_notes(session, schedule, limit=limit)]


@router.post("/handoffs", response_model=NoteOut, status_code=201)
def create_note(
    body: NoteIn,
    runtime: Runtime = Depends(get_runtime),
    who: Principal = Depends(responder),
) -> NoteOut:
    """Leave a note for whoever takes over `schedule` next."""
    return note_out(service.add_handoff_note(runtime, who, body.schedule, body.note))


@router.get("/schedules/{name}/handoff", response_model=HandoffOut | None)
def current_handoff(
    name: str,
    runtime: Runtime = Depends(get_runtime),
    session: Session = Depends(get_session),
    _who: Principal = Depends(viewer),
) -> HandoffOut | None:
    """The current shift of `name` with the handoff notes left for it; null if nobody is on call."""
    now_ = runtime.clock.now()
    user = service.on_call(session, runtime.config, name, now_)
    brief = service.pending_handoff(session, runtime.config, name, user, now_) if user else None
    if brief is None:
        return None
    return HandoffOut(
        schedule=brief.schedule, timezone=brief.timezone, user=brief.user, shift=_shift(brief.shift),
        previous=shift_out(brief.previous), next=shift_out(brief.next),
        notes=[NoteOut(id=n.id, schedule=n.schedule, author=n.author, note=n.text, created_at=n.created_at)
               for n in brief.notes],
    )


def feed_principal(
    request: Request,
    token: str | None = Query(default=None, description="API token (for calendar apps)."),
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    runtime: Runtime = Depends(get_runtime),
) -> Principal:
    """A bearer token, or the same token as `?token=` (viewer role or higher either way)."""
    if token is None:
        return current_principal(request, credentials, runtime)
    source = request.client.host if request.client else ""
    principal = token_caller(runtime, token, source)  # reads only
    if principal is None:
        raise HTTPException(401, "invalid or revoked token")
    return principal


def _calendar(feed: bytes, name: str) -> Response:
    return Response(feed, media_type="text/calendar; charset=utf-8",
                    headers={"Content-Disposition": f'inline; filename="{name}.ics"'})


@router.get("/schedules/{name}.ics", response_class=Response,
            responses={200: {"content": {"text/calendar": {}}}})
def schedule_ics(
    name: str,
    runtime: Runtime = Depends(get_runtime),
    session: Session = Depends(get_session),
    _who: Principal = Depends(feed_principal),
) -> Response:
    """The schedule's shifts from 30 days ago to 90 days ahead, as iCalendar."""
    return _calendar(feeds.schedule_feed(session, runtime.config, name, runtime.clock.now()), name)


@router.get("/users/{name}.ics", response_class=Response, responses={200: {"content": {"text/calendar": {}}}})
def user_ics(
    name: str,
    runtime: Runtime = Depends(get_runtime),
    session: Session = Depends(get_session),
    _who: Principal = Depends(feed_principal),
) -> Response:
    """The user's shifts on every schedule from 30 days ago to 90 days ahead, as iCalendar."""
    return _calendar(feeds.user_feed(session, runtime.config, name, runtime.clock.now()), name)
