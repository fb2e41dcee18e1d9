"""Incidents in the browser: the list, one incident (timeline, alerts, responders, escalation, runs) and its
actions — acknowledge, change status, resolve, add a note, change severity, start a runbook run.

Every action needs the responder role and goes through the incidents service, which writes the timeline
entry and the audit row in the same transaction.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from opsbook.auth import audit
from opsbook.auth.roles import Principal, Role
from opsbook.incidents import service as incidents
from opsbook.incidents.models import STATUSES
from opsbook.rules.severity import Severity
from opsbook.runbooks import service as runbooks
from opsbook.runbooks.catalog import ProcedureNotFound
from opsbook.runbooks.service import RunContext, RunError
from opsbook.runtime import Runtime
from opsbook.web.ui.pages import back, needs, render, runtime_of, viewer

router = APIRouter(prefix="/ui", include_in_schema=False)
responder = needs(Role.RESPONDER)
PAGE_SIZE = 50
SEVERITIES = [s.value for s in Severity]


def _get(session: Session, incident_id: int) -> Any:
    try:
        return incidents.get_incident(session, incident_id)
    except incidents.NotFound:
        raise HTTPException(404, f"no incident {incident_id}") from None


def incident_context(runtime: Runtime, session: Session, incident_id: int) -> dict[str, Any]:
    row = _get(session, incident_id)
    steps = incidents.steps_of(session, incident_id)
    catalog = runbooks.catalog_for(runtime.config.runbooks, runtime.loaded.path)
    return {
        "incident": row,
        "timeline": incidents.timeline(session, incident_id),
        "alerts": incidents.alerts_of(session, incident_id),
        "steps": steps,
        "paged": incidents.users_paged(steps),
        "runs": runbooks.list_runs(session, limit=20, incident_id=str(incident_id)),
        "procedures": [(f.ref, f.procedure.display) for f in catalog.all()],
        "statuses": [s for s in STATUSES if s not in ("triggered", "resolved")],
        "severities": SEVERITIES,
        "redact": runtime.redact,
    }


@router.get("/incidents", response_class=HTMLResponse)
def incident_list(
    request: Request, state: str = "open", before: int | None = None, principal: Principal = Depends(viewer)
) -> HTMLResponse:
    runtime = runtime_of(request)
    with runtime.sessions() as session:
        rows = incidents.list_incidents(
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
def incident_page(request: Request, incident_id: int, principal: Principal = Depends(viewer)) -> HTMLResponse:
    runtime = runtime_of(request)
    with runtime.sessions() as session:
        context = incident_context(runtime, session, incident_id)
    return render(
        request, "ui/incident.html", title=f"Incident #{incident_id}", section="Incidents", **context
    )


@router.get("/incidents/{incident_id}/timeline", response_class=HTMLResponse)
def incident_timeline(
    request: Request, incident_id: int, principal: Principal = Depends(viewer)
) -> HTMLResponse:
    """The timeline alone (the incident page polls it)."""
    runtime = runtime_of(request)
    with runtime.sessions() as session:
        row = _get(session, incident_id)
        items = incidents.timeline(session, incident_id)
    return render(request, "ui/_timeline.html", incident=row, timeline=items, redact=runtime.redact)


def _act(request: Request, incident_id: int, what: str, action: Any) -> Response:
    """Run one incident action in a transaction; back to the page with what happened (or why not)."""
    runtime = runtime_of(request)
    url = f"/ui/incidents/{incident_id}"
    try:
        with runtime.sessions.begin() as session:
            _get(session, incident_id)
            action(session, runtime, runtime.clock.now())
    except (incidents.IncidentError, ValueError) as exc:
        return back(url, runtime.redact(str(exc)), "error")
    runtime_cache = getattr(request.app.state, "status_cache", None)
    if runtime_cache is not None:
        runtime_cache.invalidate()
    return back(url, what)


@router.post("/incidents/{incident_id}/ack")
def acknowledge(request: Request, incident_id: int, who: Principal = Depends(responder)) -> Response:
    return _act(
        request,
        incident_id,
        "Acknowledged.",
        lambda s, rt, now: incidents.acknowledge(s, rt.config, incident_id, now, who, via="web"),
    )


@router.post("/incidents/{incident_id}/status")
def set_status(
    request: Request,
    incident_id: int,
    status: str = Form(...),
    message: str = Form(""),
    who: Principal = Depends(responder),
) -> Response:
    return _act(
        request,
        incident_id,
        f"Status set to {status}.",
        lambda s, rt, now: incidents.set_status(s, rt.config, incident_id, status, now, who, message.strip()),
    )


@router.post("/incidents/{incident_id}/resolve")
def resolve(
    request: Request, incident_id: int, message: str = Form(""), who: Principal = Depends(responder)
) -> Response:
    return _act(
        request,
        incident_id,
        "Resolved.",
        lambda s, rt, now: incidents.resolve(s, rt.config, incident_id, now, who, message.strip()),
    )


@router.post("/incidents/{incident_id}/note")
def add_note(
    request: Request, incident_id: int, text: str = Form(...), who: Principal = Depends(responder)
) -> Response:
    return _act(
        request,
        incident_id,
        "Note added.",
        lambda s, rt, now: incidents.add_note(s, rt.config, incident_id, text, now, who),
    )


@router.post("/incidents/{incident_id}/severity")
def set_severity(
    request: Request,
    incident_id: int,
    severity: str = Form(...),
    message: str = Form(""),
    who: Principal = Depends(responder),
) -> Response:
    return _act(
        request,
        incident_id,
        f"Severity set to {severity}.",
        lambda s, rt, now: incidents.set_severity(
            s, rt.config, incident_id, severity, now, who, message.strip()
        ),
    )


@router.post("/incidents/{incident_id}/runbook")
def start_runbook(
    request: Request,
    incident_id: int,
    procedure: str = Form(...),
    params: str = Form(""),
    reason: str = Form(""),
    who: Principal = Depends(responder),
) -> Response:
    """Start a run of a procedure for this incident (its steps are then walked in a terminal or the API)."""
    runtime = runtime_of(request)
    url = f"/ui/incidents/{incident_id}"
    catalog = runbooks.catalog_for(runtime.config.runbooks, runtime.loaded.path)
    try:
        found = catalog.resolve(procedure)
        values = dict(line.split("=", 1) for line in params.replace(",", "\n").splitlines() if "=" in line)
        normalized = runbooks.normalize_params(
            found.procedure, {k.strip(): v.strip() for k, v in values.items()}
        )
        env = runbooks.env_values(found.procedure, os.environ)
        missing = [
            p.name for p in runbooks.missing_parameters(found.procedure, normalized, env) if p.kind != "env"
        ]
        if missing:
            return back(url, f"missing parameters: {', '.join(missing)} (write NAME=value lines)", "error")
        ctx = RunContext(
            settings=runtime.config.runbooks,
            clock=runtime.clock,
            secrets=runtime.loaded.all_secrets(),
            environ=dict(os.environ),
        )
        now = runtime.clock.now()
        with runtime.sessions.begin() as session:
            _get(session, incident_id)
            run = runbooks.start_run(
                session,
                found,
                now=now,
                operator=who.name,
                params=normalized,
                incident_id=str(incident_id),
                reason=reason.strip(),
                secrets=ctx.secrets | set(env.values()),
            )
            audit.record(
                session, now, who, "runbook.run.start", found.ref, run_id=run.id, incident_id=str(incident_id)
            )
            run_id = run.id
    except (ProcedureNotFound, RunError) as exc:
        return back(url, runtime.redact(str(exc)), "error")
    return back(f"/ui/runbooks/runs/{run_id}", f"Run #{run_id} started for incident #{incident_id}.")
