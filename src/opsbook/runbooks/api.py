"""`/api/v1` runbooks, procedures and runs. Reading needs the viewer role; starting a run, taking a step
(which may execute a command) and aborting are the use cases of `runbooks.service` (responder role, audit
row, event); their refusals are answered by the app's error handler (404, 409, 400, 403).

A run over HTTP is walked like in the terminal: `POST /runs` creates it, then
`POST /runs/{id}/steps/{position}` with an action (run, skip, done, not_done, continue) handles one step;
a destructive step needs `confirm` equal to the step's name. The step that leaves nothing to do finishes
the run and writes its operations log entry.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from opsbook.auth.roles import Principal, Role
from opsbook.errors import NotFound
from opsbook.runbooks import service
from opsbook.runbooks.catalog import Catalog, Found
from opsbook.runbooks.models import RunRow, RunStepRow
from opsbook.runbooks.records import next_step
from opsbook.runtime import Runtime
from opsbook.web.deps import get_runtime, require_role
from opsbook.web.params import Id, Limit

router = APIRouter(prefix="/api/v1", tags=["runbooks"])
viewer = require_role(Role.VIEWER)
responder = require_role(Role.RESPONDER)  # the use cases check it too; here a viewer is refused early


def _catalog(runtime: Runtime) -> Catalog:
    return service.catalog_for(runtime.config.runbooks, runtime.loaded.path)


def _summary(found: Found, name: str | None = None, also: tuple[str, ...] = ()) -> dict[str, Any]:
    """A procedure in a list: `name` is what `opsbook runbook run` takes for it, `also` its other names."""
    p = found.procedure
    return {
        "name": name or p.display,
        "also": list(also),
        "ref": found.ref,
        "title": p.title,
        "path": list(p.path),
        "display": p.display,
        "runbook": found.entry.id,
        "steps": len(p.steps),
        "parameters": [x.name for x in p.parameters],
        "auto": p.auto,
    }


@router.get("/runbooks")
def list_runbooks(runtime: Runtime = Depends(get_runtime), _: Principal = Depends(viewer)) -> dict[str, Any]:
    catalog = _catalog(runtime)
    listing = catalog.listing()
    return {
        "runbooks": [
            {
                "id": e.id,
                "path": e.path,
                "title": e.runbook.title,
                "procedures": [_summary(row.found, row.name, row.also) for row in listing
                               if row.found.entry.id == e.id],
            }
            for e in catalog.entries
        ],
        "errors": catalog.errors,
    }


@router.get("/runbooks/{runbook_id}")
def get_runbook(
    runbook_id: str, runtime: Runtime = Depends(get_runtime), _: Principal = Depends(viewer)
) -> dict[str, Any]:
    entry = _catalog(runtime).runbook(runbook_id)
    if entry is None:
        raise NotFound(f"no runbook {runbook_id!r}")
    return {"id": entry.id, "path": entry.path, **entry.runbook.to_dict()}


@router.get("/procedures")
def list_procedures(
    q: str | None = None, runtime: Runtime = Depends(get_runtime), _: Principal = Depends(viewer)
) -> list[dict[str, Any]]:
    """Every procedure; with `q`, the one that name resolves to (404 listing close matches otherwise)."""
    if q:
        catalog = _catalog(runtime)
        found = catalog.resolve(q)
        return [_summary(found, catalog.name_of(found))]
    return [_summary(row.found, row.name, row.also) for row in _catalog(runtime).listing()]


@router.get("/procedures/{runbook_id}/{slug}")
def get_procedure(
    runbook_id: str, slug: str, runtime: Runtime = Depends(get_runtime), _: Principal = Depends(viewer)
) -> dict[str, Any]:
    found = service.find_procedure(runtime, f"{runbook_id}/{slug}")
    return found.procedure.to_dict() | {"ref": found.ref, "display": found.procedure.display}


class StartRun(BaseModel):
    procedure: str = Field(description="Name, path or ref of the procedure.")
    params: dict[str, str] = Field(default_factory=dict)
    incident_id: str | None = None
    reason: str = ""
    impact: str = ""
    follow_up: str = ""
    keep_going: bool = False


class StepAction(BaseModel):
    action: str = Field(description="run, skip, done, not_done or continue")
    confirm: str | None = Field(default=None, description="The step's name, for destructive steps.")


def _run_dict(run: RunRow, steps: list[RunStepRow] | None = None) -> dict[str, Any]:
    """A run as plain data; params shown are the non-secret ones only (`$VARS` are never stored)."""
    data: dict[str, Any] = {
        "id": run.id,
        "procedure": run.procedure_title,
        "ref": run.procedure_ref,
        "runbook": run.runbook,
        "status": run.status,
        "operator": run.operator,
        "incident_id": run.incident_id,
        "reason": run.reason,
        "params": run.params,
        "unattended": run.unattended,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }
    if steps is not None:
        data["steps"] = [
            {
                "position": s.position,
                "name": s.name,
                "title": s.title,
                "kind": s.kind,
                "status": s.status,
                "command": s.command,
                "exit_code": s.exit_code,
                "duration_s": s.duration_s,
                "output": s.output,
                "note": s.note,
            }
            for s in steps
        ]
        nxt = next_step(steps)
        data["next_step"] = nxt.position if nxt is not None else None
    return data


@router.get("/runs")
def list_runs(
    incident_id: str | None = None,
    limit: Limit = 50,
    runtime: Runtime = Depends(get_runtime),
    _: Principal = Depends(viewer),
) -> list[dict[str, Any]]:
    with runtime.sessions() as session:
        return [_run_dict(r) for r in service.list_runs(session, limit=limit, incident_id=incident_id)]


@router.get("/runs/{run_id}")
def get_run(
    run_id: Id, runtime: Runtime = Depends(get_runtime), _: Principal = Depends(viewer)
) -> dict[str, Any]:
    with runtime.sessions() as session:
        return _run_dict(service.get_run(session, run_id), service.steps_of(session, run_id))


@router.post("/runs", status_code=201)
def start_run(
    body: StartRun, runtime: Runtime = Depends(get_runtime), who: Principal = Depends(responder)
) -> dict[str, Any]:
    state = service.start_run(
        runtime,
        who,
        service.find_procedure(runtime, body.procedure),
        params=body.params,
        incident_id=body.incident_id,
        reason=body.reason,
        impact=body.impact,
        follow_up=body.follow_up,
        keep_going=body.keep_going,
    )
    return _run_dict(state.run, state.steps)


@router.post("/runs/{run_id}/steps/{position}")
async def take_step(
    run_id: Id,
    position: int,
    body: StepAction,
    runtime: Runtime = Depends(get_runtime),
    who: Principal = Depends(responder),
) -> dict[str, Any]:
    taken = await service.take_step(runtime, who, run_id, position, body.action, confirm=body.confirm)
    return {"step": taken.result.__dict__, "run": _run_dict(taken.state.run, taken.state.steps)}


@router.post("/runs/{run_id}/abort")
def abort_run(
    run_id: Id, runtime: Runtime = Depends(get_runtime), who: Principal = Depends(responder)
) -> dict[str, Any]:
    state = service.abort_run(runtime, who, run_id)
    return {"run": _run_dict(state.run), "oplog_entry": state.oplog_entry}
