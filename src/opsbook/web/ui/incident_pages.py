"""Incidents in the browser: the list, one incident (timeline, alerts, responders, escalation, runs) and its
actions — acknowledge, change status, resolve, add a note, change severity, start a runbook run, publish
it on the status page and post or correct its public updates.

Every action needs the responder role and is a use case of the incidents service (timeline entry, audit
row and event in one transaction); the page shows what happened, or why not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from opsbook.auth.roles import Principal, Role
from opsbook.errors import NotFound, OpsbookError
from opsbook.incidents import public, queries, service
from opsbook.incidents.models import STATUSES, IncidentRow
from opsbook.incidents.paging import runbook_links
from opsbook.incidents.public import PUBLIC_STATUSES
from opsbook.rules.severity import Severity
from opsbook.runbooks import service as runbooks
from opsbook.runtime import Runtime
from opsbook.web.params import Id
from opsbook.web.ui.pages import back, needs, render, runtime_of, viewer

router = APIRouter(prefix="/ui", include_in_schema=False)
responder = needs(Role.RESPONDER)
PAGE_SIZE = 50
SEVERITIES = [s.value for s in Severity]


def _get(session: Session, incident_id: int) -> IncidentRow:
    try:
        return queries.get_incident(session, incident_id)
    except NotFound:
        raise HTTPException(404, f"no incident {incident_id}") from None


def incident_context(runtime: Runtime, session: Session, incident_id: int) -> dict[str, Any]:
    row = _get(session, incident_id)
    steps = queries.steps_of(session, incident_id)
    catalog = runbooks.catalog_for(runtime.config.runbooks, runtime.loaded.path)
    return {
        "incident": row,
        "timeline": queries.timeline(session, incident_id),
        "alerts": queries.alerts_of(session, incident_id),
        "steps": steps,
        "paged": queries.users_paged(steps),
        "runs": runbooks.list_runs(session, limit=20, incident_id=str(incident_id)),
        "procedures": [(f.ref, f.procedure.display) for f in catalog.all()],
        "named_runbooks": runbook_links(  # relative links: this server, whatever base_url says
            runtime.config, queries.runbooks_of(session, incident_id), incident_id, base_url=""),
        "statuses": [s for s in STATUSES if s not in ("triggered", "resolved")],
        "severities": SEVERITIES,
        "redact": runtime.redact,
        "public_updates": public.updates_of(session, incident_id),
        "public_statuses": PUBLIC_STATUSES,
    }


@router.get("/incidents", response_class=HTMLResponse)
def incident_list(
    request: Request, state: str = "open", before: int | None = None, principal: Principal = Depends(viewer)
) -> HTMLResponse:
    runtime = runtime_of(request)
    with runtime.sessions() as session:
        rows = queries.list_incidents(
            session, open_only=state == "open", limit=500 if before else PAGE_SIZE
        )
        if before is not None:
            rows = [r for r in rows if r.id < before][:PAGE_SIZE]
    return render(
        request,
        "ui/incidents.html",
        title="Incidents",
        section="Incidents",
        incidents=rows,
        state=state,
        more=len(rows) == PAGE_SIZE,
        last_id=rows[-1].id if rows else None,
    )


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def incident_page(request: Request, incident_id: Id, principal: Principal = Depends(viewer)) -> HTMLResponse:
    runtime = runtime_of(request)
    with runtime.sessions() as session:
        context = incident_context(runtime, session, incident_id)
    return render(
        request, "ui/incident.html", title=f"Incident #{incident_id}", section="Incidents", **context
    )


@router.get("/incidents/{incident_id}/timeline", response_class=HTMLResponse)
def incident_timeline(
    request: Request, incident_id: Id, principal: Principal = Depends(viewer)
) -> HTMLResponse:
    """The timeline alone (the incident page polls it)."""
    runtime = runtime_of(request)
    with runtime.sessions() as session:
        row = _get(session, incident_id)
        items = queries.timeline(session, incident_id)
    return render(request, "ui/_timeline.html", incident=row, timeline=items, redact=runtime.redact)


def _act(request: Request, incident_id: int, what: str, action: Callable[[Runtime], object]) -> Response:
    """Run one incident use case; back to the page with what happened (or why not)."""
    runtime = runtime_of(request)
    url = f"/ui/incidents/{incident_id}"
    try:
        action(runtime)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except OpsbookError as exc:
        return back(url, runtime.redact(str(exc)), "error")
    return back(url, what)


@router.post("/incidents/{incident_id}/ack")
def acknowledge(request: Request, incident_id: Id, who: Principal = Depends(responder)) -> Response:
    return _act(request, incident_id, "Acknowledged.",
                lambda rt: service.acknowledge_incident(rt, who, incident_id, via="web"))


@router.post("/incidents/{incident_id}/status")
def set_status(
    request: Request,
    incident_id: Id,
    status: str = Form(...),
    message: str = Form(""),
    who: Principal = Depends(responder),
) -> Response:
    return _act(request, incident_id, f"Status set to {status}.",
                lambda rt: service.set_incident_status(rt, who, incident_id, status, message=message.strip()))


@router.post("/incidents/{incident_id}/resolve")
def resolve(
    request: Request, incident_id: Id, message: str = Form(""), who: Principal = Depends(responder)
) -> Response:
    return _act(request, incident_id, "Resolved.",
                lambda rt: service.resolve_incident(rt, who, incident_id, message=message.strip()))


@router.post("/incidents/{incident_id}/note")
def add_note(
    request: Request, incident_id: Id, text: str = Form(...), who: Principal = Depends(responder)
) -> Response:
    return _act(request, incident_id, "Note added.",
                lambda rt: service.add_incident_note(rt, who, incident_id, text))


@router.post("/incidents/{incident_id}/severity")
def set_severity(
    request: Request,
    incident_id: Id,
    severity: str = Form(...),
    message: str = Form(""),
    who: Principal = Depends(responder),
) -> Response:
    return _act(request, incident_id, f"Severity set to {severity}.",
                lambda rt: service.set_incident_severity(rt, who, incident_id, severity,
                                                         message=message.strip()))


@router.post("/incidents/{incident_id}/publish")
def publish(
    request: Request,
    incident_id: Id,
    title: str = Form(""),
    message: str = Form(""),
    status: str = Form(""),
    who: Principal = Depends(responder),
) -> Response:
    """Publish on the status page (or change the public title), with an optional first public update."""
    return _act(request, incident_id, "On the status page.",
                lambda rt: service.publish_incident(rt, who, incident_id, title=title.strip() or None,
                                                    message=message, status=status or None))


@router.post("/incidents/{incident_id}/unpublish")
def unpublish(request: Request, incident_id: Id, who: Principal = Depends(responder)) -> Response:
    return _act(request, incident_id, "Taken off the status page: it shows under a generic name.",
                lambda rt: service.unpublish_incident(rt, who, incident_id))


@router.post("/incidents/{incident_id}/public-updates")
def post_public_update(
    request: Request,
    incident_id: Id,
    text: str = Form(...),
    status: str = Form(""),
    who: Principal = Depends(responder),
) -> Response:
    return _act(request, incident_id, "Public update posted: it is on the status page.",
                lambda rt: service.post_public_update(rt, who, incident_id, text, status=status or None))


@router.post("/incidents/{incident_id}/public-updates/{number}")
def edit_public_update(
    request: Request,
    incident_id: Id,
    number: Id,
    text: str = Form(...),
    status: str = Form(""),
    who: Principal = Depends(responder),
) -> Response:
    return _act(request, incident_id, f"Public update {number} corrected.",
                lambda rt: service.edit_public_update(rt, who, incident_id, number, text,
                                                      status=status or None))


@router.post("/incidents/{incident_id}/runbook")
def start_runbook(
    request: Request,
    incident_id: Id,
    procedure: str = Form(...),
    params: str = Form(""),
    reason: str = Form(""),
    who: Principal = Depends(responder),
) -> Response:
    """Start a run of a procedure for this incident (its steps are then walked in a terminal or the API);
    parameters are NAME=value lines (or comma-separated)."""
    runtime = runtime_of(request)
    pairs = (line.split("=", 1) for line in params.replace(",", "\n").splitlines() if "=" in line)
    try:
        state = runbooks.start_run(
            runtime,
            who,
            runbooks.find_procedure(runtime, procedure),
            params={key.strip(): value.strip() for key, value in pairs},
            incident_id=incident_id,
            reason=reason,
        )
    except OpsbookError as exc:
        return back(f"/ui/incidents/{incident_id}", runtime.redact(str(exc)), "error")
    run_id = state.run.id
    return back(f"/ui/runbooks/runs/{run_id}", f"Run #{run_id} started for incident #{incident_id}.")
