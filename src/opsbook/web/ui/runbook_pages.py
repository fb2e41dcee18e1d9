"""One runbook procedure in the browser (`/ui/procedures/RUNBOOK/PROCEDURE`, the page the runbook link of a
message opens): its steps with their commands, its parameters, the command that runs it, and its runs."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from opsbook.auth.roles import Principal
from opsbook.runbooks import service as runbooks
from opsbook.runbooks.catalog import Catalog, ProcedureNotFound
from opsbook.runbooks.commands import run_command
from opsbook.web.ui.pages import render, runtime_of, viewer

router = APIRouter(prefix="/ui", include_in_schema=False)
RUNS_SHOWN = 50


def _not_found(request: Request, catalog: Catalog, ref: str, slug: str) -> HTMLResponse:
    """A link to a procedure that is not there (a runbook edited since the message was sent): a 404 page
    with the procedures its words now name."""
    try:
        near = [catalog.resolve(slug.replace("-", " "))]
    except ProcedureNotFound as exc:
        near = exc.near
    suggestions = [(runbooks.procedure_path(f), f.procedure.display) for f in near if f.ref != ref]
    return render(request, "ui/error.html", status_code=404, title="Not found", section="Runbooks",
                  detail=f"There is no procedure {ref} in the runbooks now.", suggestions=suggestions)


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
        found = None
    if found is None or found.ref != ref:  # gone, renamed, or a name that merely resolves: one address each
        return _not_found(request, catalog, ref, slug)
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
        command=run_command(runtime.config.server, catalog.name_of(found)),
        runs=runs,
        more_runs=len(runs) == RUNS_SHOWN,
    )
