"""Backups and secrets in the browser: the DR table of the runbooks (`/ui/backups`: per job, component,
RTO target, last measured RTO, RPO target, RPO now, last drill, verdict; recent drills with their output;
a responder may run a drill now) and the secrets inventory (`/ui/secrets`: age against policy, the next
due date, an open compromise; a responder records a rotation or reports a compromise)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from opsbook.auth.roles import Principal, Role
from opsbook.backups import service as backups
from opsbook.backups import store as backup_store
from opsbook.backups.assess import human_age
from opsbook.config.types import format_duration
from opsbook.errors import OpsbookError
from opsbook.secrets import service as secrets
from opsbook.web.ui.pages import back, needs, render, runtime_of, viewer

router = APIRouter(prefix="/ui", include_in_schema=False)
responder = needs(Role.RESPONDER)  # the use cases check it too; declared for early refusal


@router.get("/backups", response_class=HTMLResponse)
def backups_page(request: Request, principal: Principal = Depends(viewer)) -> HTMLResponse:
    runtime = runtime_of(request)
    rows = backups.dr_report(runtime)
    with runtime.sessions() as session:
        drills = backup_store.drills(session, limit=20)
    return render(request, "ui/backups.html", title="Backups", section="Backups", rows=rows, drills=drills,
                  jobs={j.name: j for j in runtime.config.backups}, age=human_age, span=format_duration,
                  redact=runtime.redact)


@router.post("/backups/{job}/drill")
def drill_now(request: Request, job: str, who: Principal = Depends(responder)) -> Response:
    """Run the job's restore drill now (the request waits for it) and say how it went."""
    try:
        row = backups.run_drill(runtime_of(request), who, job)
    except OpsbookError as exc:
        return back("/ui/backups", str(exc), "error")
    if row.ok:
        return back("/ui/backups", f"Drill of {job} passed: RTO {row.rto_s:.1f} s.")
    return back("/ui/backups", f"Drill of {job} failed: {row.error[:300]}", "error")


@router.get("/secrets", response_class=HTMLResponse)
def secrets_page(request: Request, principal: Principal = Depends(viewer)) -> HTMLResponse:
    runtime = runtime_of(request)
    return render(request, "ui/secrets.html", title="Secrets", section="Secrets",
                  views=secrets.secret_views(runtime), span=format_duration, age=human_age)


@router.post("/secrets/{name}/rotated")
def rotated(
    request: Request, name: str, note: str = Form(""), who: Principal = Depends(responder)
) -> Response:
    try:
        secrets.record_rotation(runtime_of(request), who, name, note=note)
    except OpsbookError as exc:
        return back("/ui/secrets", str(exc), "error")
    return back("/ui/secrets", f"Rotation of {name} recorded.")


@router.post("/secrets/{name}/compromised")
def compromised(
    request: Request, name: str, reason: str = Form(""), who: Principal = Depends(responder)
) -> Response:
    try:
        row = secrets.report_compromise(runtime_of(request), who, name, reason)
    except OpsbookError as exc:
        return back("/ui/secrets", str(exc), "error")
    return back(f"/ui/incidents/{row.incident_id}", f"Incident opened: rotate {name} within the deadline.")
