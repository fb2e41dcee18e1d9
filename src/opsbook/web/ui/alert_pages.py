"""Alerts (the list, and one alert: the page the "Details" link of a message opens), silences and
maintenance windows in the browser.

Reading needs a signed-in user. Creating and expiring silences and maintenance windows are the use cases
of `opsbook.silences.service` (responder role, audit row, event): bad input or what has ended already is
shown on the page, a viewer's attempt is answered 403 by the app.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from opsbook.alerts.models import AlertRow
from opsbook.alerts.service import events_of, list_alerts
from opsbook.auth.roles import Principal, Role
from opsbook.errors import Conflict, NotFound
from opsbook.incidents.queries import incidents_of_alert
from opsbook.runbooks import service as runbooks
from opsbook.runbooks.catalog import ProcedureNotFound
from opsbook.silences import service as silences
from opsbook.silences import store
from opsbook.silences.matchers import parse_matcher
from opsbook.silences.mute import mute_for_people
from opsbook.timefmt import parse_span, parse_when
from opsbook.web.params import Id
from opsbook.web.ui.pages import back, needs, render, runtime_of, viewer

responder = needs(Role.RESPONDER)  # the use cases check it too; declared for early refusal
router = APIRouter(prefix="/ui", include_in_schema=False)
old_links = APIRouter(include_in_schema=False)
"""`/alerts/N`: where the "Details" link of messages sent by earlier versions points."""
ALERT_STATES = ("firing", "pending", "resolved")
SHOWN = (ValueError, NotFound, Conflict)
"""Refusals shown on the page (bad input, unknown id, ended already); `Forbidden` is answered 403."""


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(
    request: Request,
    state: str = "",
    service: str = "",
    before: int | None = None,
    principal: Principal = Depends(viewer),
) -> HTMLResponse:
    runtime = runtime_of(request)
    with runtime.sessions() as session:
        rows = list_alerts(session, state=state or None, service=service or None, limit=100, before_id=before)
    return render(
        request,
        "ui/alerts.html",
        title="Alerts",
        section="Alerts",
        alerts=rows,
        state=state,
        service=service,
        states=ALERT_STATES,
        more=len(rows) == 100,
        last_id=rows[-1].id if rows else None,
        redact=runtime.redact,
    )


def _runbook_link(request: Request, name: str) -> str:
    """Where the alert's runbook is: its procedure page, the URL it is, or '' when it names nothing."""
    if name.startswith(("https://", "http://")):
        return name
    if not name:
        return ""
    runtime = runtime_of(request)
    try:
        return runbooks.procedure_path(runbooks.find_procedure(runtime, name))
    except ProcedureNotFound:
        return ""


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(request: Request, alert_id: Id, principal: Principal = Depends(viewer)) -> HTMLResponse:
    runtime = runtime_of(request)
    with runtime.sessions() as session:
        row = session.get(AlertRow, alert_id)
        if row is None:
            raise HTTPException(404, f"no alert {alert_id}")
        events = events_of(session, alert_id)
        incidents = incidents_of_alert(session, alert_id)
    return render(
        request,
        "ui/alert.html",
        title=f"Alert {alert_id}",
        section="Alerts",
        alert=row,
        events=events,
        incidents=incidents,
        runbook_link=_runbook_link(request, row.runbook),
        silenced_by=mute_for_people(row.silenced_by, runtime.config.timezone) if row.silenced_by else "",
        redact=runtime.redact,
    )


@old_links.get("/alerts/{alert_id}")
def old_alert_link(alert_id: Id) -> RedirectResponse:
    return RedirectResponse(f"/ui/alerts/{alert_id}", status_code=308)


@router.get("/silences", response_class=HTMLResponse)
def silences_page(request: Request, principal: Principal = Depends(viewer)) -> HTMLResponse:
    runtime = runtime_of(request)
    now = runtime.clock.now()
    with runtime.sessions() as session:
        rows = store.list_silences(session, now, limit=200)
        shown = [(row, store.silence_state(row, now)) for row in rows]
    return render(
        request,
        "ui/silences.html",
        title="Silences",
        section="Silences",
        silences=shown,
        matcher=request.query_params.get("matcher", ""),
    )


@router.post("/silences")
def create_silence(
    request: Request,
    matchers: str = Form(...),
    duration: str = Form("2h"),
    comment: str = Form(""),
    who: Principal = Depends(responder),
) -> Response:
    try:
        parsed = [parse_matcher(m.strip()) for m in matchers.replace("\n", ",").split(",") if m.strip()]
        length = parse_span(duration)
        row = silences.add_silence(runtime_of(request), who, parsed, comment=comment, duration=length)
    except SHOWN as exc:
        return back("/ui/silences", str(exc), "error")
    return back("/ui/silences", f"Silence #{row.id} created.")


@router.post("/silences/{silence_id}/expire")
def expire_silence(request: Request, silence_id: Id, who: Principal = Depends(responder)) -> Response:
    try:
        silences.expire_silence(runtime_of(request), who, silence_id)
    except SHOWN as exc:
        return back("/ui/silences", str(exc), "error")
    return back("/ui/silences", f"Silence #{silence_id} expired.")


@router.get("/maintenance", response_class=HTMLResponse)
def maintenance_page(request: Request, principal: Principal = Depends(viewer)) -> HTMLResponse:
    runtime = runtime_of(request)
    now = runtime.clock.now()
    with runtime.sessions() as session:
        one_off = store.list_maintenance(session, now, include_past=True, limit=100)
        upcoming = silences.upcoming_maintenance(
            session, now, runtime.config.maintenance_windows, services=runtime.config.services
        )
    return render(
        request,
        "ui/maintenance.html",
        title="Maintenance",
        section="Maintenance",
        windows=one_off,
        upcoming=upcoming,
        services=[s.name for s in runtime.config.services],
    )


@router.post("/maintenance")
def create_maintenance(
    request: Request,
    title: str = Form(""),
    services: list[str] = Form(default_factory=list),
    starts: str = Form("now"),
    duration: str = Form("1h"),
    description: str = Form(""),
    who: Principal = Depends(responder),
) -> Response:
    runtime = runtime_of(request)
    try:
        row = silences.add_maintenance(
            runtime, who, services, title=title, description=description, duration=parse_span(duration),
            starts_at=parse_when(starts or "now", now=runtime.clock.now(), zone=runtime.config.timezone),
        )
    except SHOWN as exc:
        return back("/ui/maintenance", str(exc), "error")
    return back("/ui/maintenance", f"Maintenance window #{row.id} scheduled.")


@router.post("/maintenance/{window_id}/cancel")
def cancel_maintenance(request: Request, window_id: Id, who: Principal = Depends(responder)) -> Response:
    try:
        silences.remove_maintenance(runtime_of(request), who, window_id)
    except SHOWN as exc:
        return back("/ui/maintenance", str(exc), "error")
    return back("/ui/maintenance", f"Maintenance window #{window_id} cancelled.")
