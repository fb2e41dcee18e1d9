"""HTTP API of incidents (`/api/v1/incidents`) and the signed acknowledgement pages (`/ack/{token}`).

Reading (list, show with alerts, pages and timeline, post-mortem draft) needs the viewer role; opening,
acknowledging, resolving, notes, status, severity, details, publishing on the status page and public
updates are the use cases of service.py (the responder role, an audit row and an event each). Their
errors are answered by the app's handler. `/ack/{token}` needs no login: GET shows a confirmation page,
POST acknowledges (once, as the person the link was sent to; see signed.py); for an incident acknowledged
or resolved already both say so, and when. Mount `router` and `ack_router`.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from opsbook.auth.roles import Principal, Role
from opsbook.errors import OpsbookError, http_status
from opsbook.incidents import postmortem, public, queries, service, signed
from opsbook.incidents.models import RESOLVED, IncidentRow
from opsbook.runtime import Runtime
from opsbook.timefmt import show_time
from opsbook.web.deps import get_runtime, get_session, require_role
from opsbook.web.params import Id

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])
ack_router = APIRouter(tags=["incidents"])
viewer = require_role(Role.VIEWER)
responder = require_role(Role.RESPONDER)


class IncidentOut(BaseModel):
    id: int
    title: str
    severity: str
    status: str
    service: str | None
    services: list[str]
    summary: str
    impact: str
    eta: str
    customer_facing: bool = Field(description="Published on the status page (its public title and updates).")
    public_title: str | None = Field(description="The status page's title of it; null: its title.")
    commander: str | None
    responders: list[str]
    source: str
    opened_by: str
    policy: str | None
    detected_at: datetime | None
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    ack_deadline: datetime | None
    sla_breached: bool
    updated_at: datetime


class AlertLinkOut(BaseModel):
    alert_id: int
    service: str
    check_id: str | None
    rule: str | None
    severity: str
    summary: str
    source: str
    pending_since: datetime | None
    fired_at: datetime | None
    joined_at: datetime
    resolved_at: datetime | None


class StepOut(BaseModel):
    step: str
    kind: str
    level: int
    round: int
    users: list[str]
    due_at: datetime
    sent_at: datetime


class TimelineOut(BaseModel):
    ts: datetime
    kind: str
    actor: str
    message: str
    source: str


class PublicUpdateOut(BaseModel):
    number: int = Field(description="Counted from 1 per incident (PATCH .../public-updates/{number}).")
    ts: datetime
    status: str = Field(description="investigating, identified, monitoring or resolved")
    text: str
    author: str
    edited_at: datetime | None
    edited_by: str | None


class IncidentDetail(IncidentOut):
    alerts: list[AlertLinkOut]
    pages: list[StepOut]
    timeline: list[TimelineOut]
    public_updates: list[PublicUpdateOut]


class OpenIn(BaseModel):
    title: str = Field(min_length=1, max_length=500)
    severity: str = Field(description="P0 … P4")
    service: str | None = None
    summary: str = ""
    impact: str = ""
    customer_facing: bool = False
    commander: str | None = None


class MessageIn(BaseModel):
    message: str = ""


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=10000)


class StatusIn(BaseModel):
    status: str = Field(description="acknowledged, investigating, identified, monitoring or resolved")
    message: str = ""
    impact: str | None = None
    eta: str | None = None


class SeverityIn(BaseModel):
    severity: str
    message: str = ""


class DetailsIn(BaseModel):
    title: str | None = None
    commander: str | None = None
    customer_facing: bool | None = None


class PublishIn(BaseModel):
    title: str | None = Field(default=None, max_length=500, description="The public title (else its title).")
    message: str = Field(default="", max_length=5000, description="A first public update, if any.")
    status: str | None = Field(default=None, description="The update's status; default: the incident's.")


class PublicUpdateIn(BaseModel):
    text: str = Field(min_length=1, max_length=5000)
    status: str | None = Field(default=None, description="investigating, identified, monitoring, resolved")


def _out(row: IncidentRow) -> IncidentOut:
    return IncidentOut.model_validate(queries.incident_dict(row))


def _detail(session: Session, row: IncidentRow) -> IncidentDetail:
    links = queries.alerts_of(session, row.id)
    alerts = [AlertLinkOut.model_validate(a, from_attributes=True) for a in links]
    pages = [StepOut(step=s.step_key, kind=s.kind, level=s.level, round=s.round, users=list(s.users),
                     due_at=s.due_at, sent_at=s.sent_at) for s in queries.steps_of(session, row.id)]
    timeline = [TimelineOut(ts=i.ts, kind=i.kind, actor=i.actor, message=i.message, source=i.source)
                for i in queries.timeline(session, row.id)]
    said = [PublicUpdateOut.model_validate(u, from_attributes=True)
            for u in public.updates_of(session, row.id)]
    return IncidentDetail(**_out(row).model_dump(), alerts=alerts, pages=pages, timeline=timeline,
                          public_updates=said)


@router.get("", response_model=list[IncidentOut])
def list_incidents(
    status: str | None = Query(default=None, description="triggered, acknowledged, … resolved"),
    open_only: bool = Query(default=False, alias="open", description="Only incidents not resolved."),
    service_name: str | None = Query(default=None, alias="service"),
    severity: str | None = Query(default=None),
    limit: int = Query(default=100, ge=1, le=1000),
    session: Session = Depends(get_session),
    _: Principal = Depends(viewer),
) -> list[IncidentOut]:
    rows = queries.list_incidents(session, status=status, open_only=open_only, service=service_name,
                                  severity=severity, limit=limit)
    return [_out(r) for r in rows]


@router.get("/{incident_id}", response_model=IncidentDetail)
def show_incident(incident_id: Id, session: Session = Depends(get_session),
                  _: Principal = Depends(viewer)) -> IncidentDetail:
    return _detail(session, queries.get_incident(session, incident_id))


@router.get("/{incident_id}/postmortem", response_class=PlainTextResponse)
def incident_postmortem(incident_id: Id, runtime: Runtime = Depends(get_runtime),
                        session: Session = Depends(get_session), _: Principal = Depends(viewer)) -> Any:
    text = postmortem.build(session, runtime.config, incident_id, runtime.clock.now())
    return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")


@router.post("", response_model=IncidentOut, status_code=201)
def open_incident(body: OpenIn, runtime: Runtime = Depends(get_runtime),
                  who: Principal = Depends(responder)) -> IncidentOut:
    return _out(service.open_incident(
        runtime, who, title=body.title, severity=body.severity, service=body.service, summary=body.summary,
        impact=body.impact, customer_facing=body.customer_facing, commander=body.commander))


@router.post("/{incident_id}/ack", response_model=IncidentOut)
def ack_incident(incident_id: Id, runtime: Runtime = Depends(get_runtime),
                 who: Principal = Depends(responder)) -> IncidentOut:
    return _out(service.acknowledge_incident(runtime, who, incident_id, via="api"))


@router.post("/{incident_id}/resolve", response_model=IncidentOut)
def resolve_incident(incident_id: Id, body: MessageIn | None = None, runtime: Runtime = Depends(get_runtime),
                     who: Principal = Depends(responder)) -> IncidentOut:
    return _out(service.resolve_incident(runtime, who, incident_id, message=body.message if body else ""))


@router.post("/{incident_id}/notes", response_model=TimelineOut, status_code=201)
def add_note(incident_id: Id, body: NoteIn, runtime: Runtime = Depends(get_runtime),
             who: Principal = Depends(responder)) -> TimelineOut:
    entry = service.add_incident_note(runtime, who, incident_id, body.text)
    return TimelineOut(ts=entry.ts, kind=entry.kind, actor=entry.actor, message=entry.message,
                       source="incident")


@router.post("/{incident_id}/status", response_model=IncidentOut)
def set_status(incident_id: Id, body: StatusIn, runtime: Runtime = Depends(get_runtime),
               who: Principal = Depends(responder)) -> IncidentOut:
    return _out(service.set_incident_status(runtime, who, incident_id, body.status, message=body.message,
                                            impact=body.impact, eta=body.eta))


@router.post("/{incident_id}/severity", response_model=IncidentOut)
def set_severity(incident_id: Id, body: SeverityIn, runtime: Runtime = Depends(get_runtime),
                 who: Principal = Depends(responder)) -> IncidentOut:
    return _out(service.set_incident_severity(runtime, who, incident_id, body.severity, message=body.message))


@router.patch("/{incident_id}", response_model=IncidentOut)
def update_details(incident_id: Id, body: DetailsIn, runtime: Runtime = Depends(get_runtime),
                   who: Principal = Depends(responder)) -> IncidentOut:
    return _out(service.update_incident_details(
        runtime, who, incident_id, title=body.title, commander=body.commander,
        customer_facing=body.customer_facing))


@router.post("/{incident_id}/publish", response_model=IncidentOut)
def publish_incident(incident_id: Id, body: PublishIn, runtime: Runtime = Depends(get_runtime),
                     who: Principal = Depends(responder)) -> IncidentOut:
    """Show the incident on the status page under its public title; `message` posts a first update."""
    return _out(service.publish_incident(runtime, who, incident_id, title=body.title, message=body.message,
                                         status=body.status))


@router.post("/{incident_id}/unpublish", response_model=IncidentOut)
def unpublish_incident(incident_id: Id, runtime: Runtime = Depends(get_runtime),
                       who: Principal = Depends(responder)) -> IncidentOut:
    """Take its title and public updates off the status page (it shows under a generic name again)."""
    return _out(service.unpublish_incident(runtime, who, incident_id))


@router.post("/{incident_id}/public-updates", response_model=PublicUpdateOut, status_code=201)
def post_public_update(incident_id: Id, body: PublicUpdateIn, runtime: Runtime = Depends(get_runtime),
                       who: Principal = Depends(responder)) -> PublicUpdateOut:
    """Post an update for customers (the incident must be published: 409 otherwise)."""
    update = service.post_public_update(runtime, who, incident_id, body.text, status=body.status)
    return PublicUpdateOut.model_validate(update, from_attributes=True)


@router.patch("/{incident_id}/public-updates/{number}", response_model=PublicUpdateOut)
def edit_public_update(incident_id: Id, number: Id, body: PublicUpdateIn,
                       runtime: Runtime = Depends(get_runtime),
                       who: Principal = Depends(responder)) -> PublicUpdateOut:
    """Correct a public update's text (and status, if given)."""
    update = service.edit_public_update(runtime, who, incident_id, number, body.text, status=body.status)
    return PublicUpdateOut.model_validate(update, from_attributes=True)


# --- /ack/{token}: no login, the signed link is the credential ---------------------------------------------

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem}}
button{{font-size:1.3rem;padding:.8rem 1.6rem}}.muted{{color:#666}}</style>
</head><body>
<h1>{title}</h1>
{body}
</body></html>
"""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=html.escape(title), body=body), status_code=status,
                        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


def _link_error(exc: OpsbookError) -> HTMLResponse:
    status = 410 if isinstance(exc, signed.LinkExpired | signed.LinkUsed) else http_status(exc)
    return _page("Cannot acknowledge", f"<p>{html.escape(str(exc))}</p>", status)


def _describe(row: IncidentRow, zone: str) -> str:
    return (f"<p><strong>[{html.escape(row.severity)}] #{row.id} {html.escape(row.title)}</strong></p>"
            f"<p class=muted>Service: {html.escape(row.service or '—')} · Status: {html.escape(row.status)}"
            f" · Opened {show_time(row.opened_at, zone)}</p>"
            f'<p><a href="/ui/incidents/{row.id}">Open the incident</a> '
            "<span class=muted>(timeline, alerts, runbook; after signing in)</span></p>")


def _nothing_to_acknowledge(row: IncidentRow, zone: str, status: int = 200) -> HTMLResponse | None:
    """The page saying what is true when the incident needs no acknowledgement (any more); None if it does.
    Times are in the team's time zone `zone`."""
    if row.status == RESOLVED:
        when = f" at {show_time(row.resolved_at, zone)}" if row.resolved_at else ""
        by = f" by {html.escape(row.resolved_by)}" if row.resolved_by else ""
        return _page("Nothing to acknowledge",
                     f"{_describe(row, zone)}<p>Incident #{row.id} was resolved{when}{by}; "
                     "nothing to acknowledge.</p>", status)
    if row.acknowledged_at is not None:
        by = html.escape(row.acknowledged_by or "someone")
        return _page("Already acknowledged",
                     f"{_describe(row, zone)}<p>Incident #{row.id} was acknowledged by {by} at "
                     f"{show_time(row.acknowledged_at, zone)}; nothing to acknowledge.</p>", status)
    return None


def _claimed(runtime: Runtime, token: str) -> tuple[signed.AckClaim, IncidentRow]:
    """What a usable link says, and its incident as it is now (raises OpsbookError)."""
    with runtime.sessions.begin() as session:  # the link secret may be created on first use
        claim = signed.claim_of(session, runtime.config, token, runtime.clock.now())
        return claim, queries.get_incident(session, claim.incident_id)


@ack_router.get("/ack/{token}", response_class=HTMLResponse, include_in_schema=False)
def ack_page(token: str, runtime: Runtime = Depends(get_runtime)) -> HTMLResponse:
    try:
        claim, row = _claimed(runtime, token)
    except OpsbookError as exc:
        return _link_error(exc)
    done = _nothing_to_acknowledge(row, runtime.config.timezone)
    if done is not None:
        return done
    who = f" as {html.escape(claim.user)}" if claim.user else ""
    form = (f'<form method="post"><button type="submit">Acknowledge{who}</button></form>'
            "<p class=muted>This stops the escalation. The link works once.</p>")
    return _page("Acknowledge incident", _describe(row, runtime.config.timezone) + form)


@ack_router.post("/ack/{token}", response_class=HTMLResponse, include_in_schema=False)
def ack_confirm(token: str, request: Request, runtime: Runtime = Depends(get_runtime)) -> HTMLResponse:
    source = f"link {request.client.host}" if request.client else "link"
    try:
        _claim, before = _claimed(runtime, token)
        row = service.acknowledge_with_link(runtime, token, source=source)
    except OpsbookError as exc:
        return _link_error(exc)
    done = _nothing_to_acknowledge(before, runtime.config.timezone, 409)
    if done is not None:
        return done
    by = html.escape(row.acknowledged_by or "you")
    described = _describe(row, runtime.config.timezone)
    return _page("Acknowledged", f"{described}<p>Acknowledged by {by}. Thank you.</p>")
