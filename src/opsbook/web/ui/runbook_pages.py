"""One runbook procedure in the browser (`/ui/procedures/RUNBOOK/PROCEDURE`, the page the runbook link of a
message opens): its steps with their commands, its parameters, the command that runs it, and its runs."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse

from opsbook.auth.roles import Principal
from opsbook.runbooks import service as runbooks
from opsbook.runbooks.catalog import ProcedureNotFound
from opsbook.runbooks.commands import run_command
from opsbook.web.ui.pages import render, runtime_of, viewer

router = APIRouter(prefix="/ui", include_in_schema=False)
RUNS_SHOWN = 50


@router.get("/procedures/{runbook_id}/{slug}", response_class=HTMLResponse)
def procedure_page(
    request: Request, runbook_id: str, slug: str, principal: Principal = Depends(viewer)
) -> HTMLResponse:
    runtime = runtime_of(request)
    ref = f"{runbook_id}/{slug}"
    catalog = runbooks.catalog_for(runtime.config.runbooks, runtime.loaded.path)
    try:
        found = catalog.resolve(ref)
    except ProcedureNotFound:
        raise HTTPException(404, f"no procedure {ref}; see /ui/runbooks") from None
    if found.ref != ref:  # a name that merely resolves: the page has one address
        raise HTTPException(404, f"no procedure {ref}; see /ui/runbooks")
    with runtime.sessions() as session:
        runs = runbooks.list_runs(session, limit=RUNS_SHOWN, procedure_ref=ref)
    procedure = found.procedure
    return render(
        request,
        "ui/procedure.html",
        title=procedure.display,
        section="Runbooks",
        found=found,
        procedure=procedure,
        command=run_command(catalog.name_of(found)),
        runs=runs,
        more_runs=len(runs) == RUNS_SHOWN,
    )
