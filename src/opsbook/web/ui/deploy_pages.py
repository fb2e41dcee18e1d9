"""Deploys in the browser: the DORA figures of the last 30 days per service and the recent deploys
(`/ui/deploys`), and one deploy with its checklist answers, the verification's figures and its output
(`/ui/deploys/{id}`). Read-only: deploys are run from the CLI (`opsbook deploy`) or recorded by CI."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse

from opsbook.auth.roles import Principal
from opsbook.deploys import queries
from opsbook.deploys.report import dora_report, frequency, rate
from opsbook.errors import NotFound
from opsbook.web.params import Id
from opsbook.web.ui.pages import render, runtime_of, viewer

router = APIRouter(prefix="/ui", include_in_schema=False)
PERIOD = timedelta(days=30)


@router.get("/deploys", response_class=HTMLResponse)
def deploys_page(
    request: Request, service: str | None = None, principal: Principal = Depends(viewer)
) -> HTMLResponse:
    runtime = runtime_of(request)
    now = runtime.clock.now()
    with runtime.sessions() as session:
        dora = dora_report(session, runtime.config, now - PERIOD, now)
        rows = queries.list_deploys(session, service=service or None, limit=100)
    return render(request, "ui/deploys.html", title="Deploys", section="Deploys", dora=dora, deploys=rows,
                  service=service or "", frequency=frequency, rate=rate, describe=queries.describe,
                  redact=runtime.redact)


@router.get("/deploys/{deploy_id}", response_class=HTMLResponse)
def deploy_page(request: Request, deploy_id: Id, principal: Principal = Depends(viewer)) -> HTMLResponse:
    runtime = runtime_of(request)
    with runtime.sessions() as session:
        try:
            row = queries.get_deploy(session, deploy_id)
        except NotFound as exc:
            raise HTTPException(404, str(exc)) from None
    return render(request, "ui/deploy.html", title=f"Deploy #{row.id}", section="Deploys", d=row,
                  what=queries.describe(row), rollback=queries.rollback_command(row, runtime.config.server),
                  redact=runtime.redact)
