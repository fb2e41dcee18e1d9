"""`/api/v1` runbooks, procedures and runs. Reading needs the viewer role; starting a run, taking a step
(which may execute a command) and aborting need responder, and each is audit-logged.

A run over HTTP is walked like in the terminal: `POST /runs` creates it, then
`POST /runs/{id}/steps/{position}` with an action (run, skip, done, not_done, continue) handles one step;
a destructive step needs `confirm` equal to the step's name. When no step is left the run is finished
and its operations log entry written.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from opsbook.auth import audit
from opsbook.auth.roles import Principal, Role
from opsbook.runbooks import service
from opsbook.runbooks.catalog import Catalog, Found, ProcedureNotFound
from opsbook.runbooks.service import ConfirmationRequired, RunContext, RunError, RunNotFound
from opsbook.runtime import Runtime
from opsbook.web.deps import get_runtime, require_role

router = APIRouter(prefix="/api/v1", tags=["runbooks"])
viewer = require_role(Role.VIEWER)
responder = require_role(Role.RESPONDER)


def _catalog(runtime: Runtime) -> Catalog:
    return service.catalog_for(runtime.config.runbooks, runtime.loaded.path)


def _context(runtime: Runtime) -> RunContext:
    return RunContext(
        settings=runtime.config.runbooks,
        clock=runtime.clock,
        secrets=runtime.loaded.all_secrets(),
        environ=dict(os.environ),
    )


def _summary(found: Found) -> dict[str, Any]:
    p = found.procedure
    return {
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
    return {
        "runbooks": [
            {
                "id": e.id,
                "path": e.path,
                "title": e.runbook.title,
                "procedures": [_summary(Found(e, p)) for p in e.runbook.procedures],
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
        raise HTTPException(404, f"no runbook {runbook_id!r}")
    return {"id": entry.id, "path": entry.path, **entry.runbook.to_dict()}


@router.get("/procedures")
def list_procedures(
    q: str | None = None, runtime: Runtime = Depends(get_runtime), _: Principal = Depends(viewer)
) -> list[dict[str, Any]]:
    """Every procedure; with `q`, the one that name resolves to (404 listing close matches otherwise)."""
    catalog = _catalog(runtime)
    if q:
        return [_summary(_resolve(catalog, q))]
    return [_summary(f) for f in catalog.all()]


def _resolve(catalog: Catalog, name: str) -> Found:
    try:
        return catalog.resolve(name)
    except ProcedureNotFound as exc:
        raise HTTPException(404, {"message": str(exc), "candidates": exc.candidates}) from None


@router.get("/procedures/{runbook_id}/{slug}")
def get_procedure(
    runbook_id: str, slug: str, runtime: Runtime = Depends(get_runtime), _: Principal = Depends(viewer)
) -> dict[str, Any]:
    found = _resolve(_catalog(runtime), f"{runbook_id}/{slug}")
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


@router.get("/runs")
def list_runs(
    incident_id: str | None = None,
    limit: int = 50,
    runtime: Runtime = Depends(get_runtime),
    _: Principal = Depends(viewer),
) -> list[dict[str, Any]]:
    with runtime.sessions() as session:
        return [service.run_dict(r) for r in service.list_runs(session, limit=limit, incident_id=incident_id)]


@router.get("/runs/{run_id}")
def get_run(
    run_id: int, runtime: Runtime = Depends(get_runtime), _: Principal = Depends(viewer)
) -> dict[str, Any]:
    with runtime.sessions() as session:
        try:
            run = service.get_run(session, run_id)
        except RunNotFound as exc:
            raise HTTPException(404, str(exc)) from None
        return service.run_dict(run, service.steps_of(session, run_id))


@router.post("/runs", status_code=201)
def start_run(
    body: StartRun, runtime: Runtime = Depends(get_runtime), who: Principal = Depends(responder)
) -> dict[str, Any]:
    found = _resolve(_catalog(runtime), body.procedure)
    ctx = _context(runtime)
    env = service.env_values(found.procedure, ctx.environ)
    now = runtime.clock.now()
    try:
        normalized = service.normalize_params(found.procedure, body.params)
    except RunError as exc:
        raise HTTPException(422, str(exc)) from None
    missing = [
        p.name for p in service.missing_parameters(found.procedure, normalized, env) if p.kind != "env"
    ]
    if missing:
        raise HTTPException(422, f"missing parameters: {', '.join(missing)}")
    with runtime.sessions.begin() as session:
        run = service.start_run(
            session,
            found,
            now=now,
            operator=who.name,
            params=normalized,
            incident_id=body.incident_id,
            reason=body.reason,
            impact=body.impact,
            follow_up=body.follow_up,
            keep_going=body.keep_going,
            secrets=ctx.secrets | set(env.values()),
        )
        audit.record(
            session, now, who, "runbook.run.start", found.ref, run_id=run.id, incident_id=body.incident_id
        )
        return service.run_dict(run, service.steps_of(session, run.id))


@router.post("/runs/{run_id}/steps/{position}")
async def take_step(
    run_id: int,
    position: int,
    body: StepAction,
    runtime: Runtime = Depends(get_runtime),
    who: Principal = Depends(responder),
) -> dict[str, Any]:
    ctx = _context(runtime)
    try:
        result = await service.perform(
            runtime.sessions,
            run_id,
            position,
            body.action,
            ctx=ctx,
            actor=who.name,
            confirm_name=body.confirm,
        )
    except RunNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except ConfirmationRequired as exc:
        raise HTTPException(
            409, {"message": str(exc), "step": exc.step.name, "reasons": list(exc.reasons)}
        ) from None
    except RunError as exc:
        raise HTTPException(409, str(exc)) from None
    with runtime.sessions.begin() as session:
        audit.record(
            session,
            runtime.clock.now(),
            who,
            f"runbook.step.{body.action}",
            f"run:{run_id}",
            position=position,
            status=result.status,
            exit_code=result.exit_code,
        )
        steps = service.steps_of(session, run_id)
        run = service.get_run(session, run_id)
        if service.next_step(steps) is None and run.status == "running":
            procedure = service.procedure_of(run)
            secrets = ctx.secrets | set(service.env_values(procedure, ctx.environ).values())
            service.finish_run(session, run_id, now=runtime.clock.now(), secrets=secrets)
        return {"step": result.__dict__, "run": service.run_dict(run, steps)}


@router.post("/runs/{run_id}/abort")
def abort_run(
    run_id: int, runtime: Runtime = Depends(get_runtime), who: Principal = Depends(responder)
) -> dict[str, Any]:
    with runtime.sessions.begin() as session:
        try:
            run = service.get_run(session, run_id)
        except RunNotFound as exc:
            raise HTTPException(404, str(exc)) from None
        if run.status != "running":
            raise HTTPException(409, f"run {run_id} is {run.status}")
        entry = service.finish_run(
            session, run_id, now=runtime.clock.now(), status="aborted", secrets=runtime.loaded.all_secrets()
        )
        audit.record(session, runtime.clock.now(), who, "runbook.run.abort", f"run:{run_id}")
        return {"run": service.run_dict(run), "oplog_entry": entry.id}
