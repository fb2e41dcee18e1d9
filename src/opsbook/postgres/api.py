"""`/api/v1/postgres`: the measuring databases, a database's live report, its stored history, the top
queries over a window, the maintenance tasks (viewer reads; nothing here changes anything)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from opsbook.auth.roles import Principal, Role
from opsbook.postgres import service, upkeep
from opsbook.postgres.service import QueriesWindow
from opsbook.runtime import Runtime
from opsbook.web.deps import get_runtime, require_role

router = APIRouter(prefix="/api/v1/postgres", tags=["postgres"])
viewer = require_role(Role.VIEWER)
Minutes = Annotated[int, Query(ge=1, le=60 * 24 * 90, description="The window, in minutes.")]


def queries_dict(window: QueriesWindow) -> dict[str, Any]:
    return {
        "start": window.start.isoformat() if window.start else None, "end": window.end.isoformat(),
        "note": window.note,
        "queries": [{**asdict(q), "mean_ms": round(q.mean_ms, 3)} for q in window.queries],
    }


@router.get("")
def databases(
    runtime: Runtime = Depends(get_runtime), _: Principal = Depends(viewer)
) -> list[dict[str, Any]]:
    return [{"check": cid, "target": runtime.redact(spec.target()), "measure": spec.measures()}
            for cid, spec in sorted(service.databases(runtime).items())]


@router.get("/maintenance")
def maintenance(
    runtime: Runtime = Depends(get_runtime), _: Principal = Depends(viewer)
) -> list[dict[str, Any]]:
    return [
        {"task": row.task.name, "check": row.task.check, "sql": row.task.sql, "window": row.window.name,
         "due": row.due.isoformat() if row.due else None, "next": row.next_at.isoformat(),
         "statement_timeout_s": row.statement_timeout.total_seconds(),
         "last": None if row.last is None else {
             "scheduled_for": row.last.scheduled_for.isoformat(), "outcome": row.last.outcome,
             "duration_s": row.last.duration_s, "error": runtime.redact(row.last.error),
         }}
        for row in upkeep.plan(runtime)
    ]


@router.get("/{service_name}/{check}/report")
def report(service_name: str, check: str, window: Minutes = 60, runtime: Runtime = Depends(get_runtime),
           actor: Principal = Depends(viewer)) -> dict[str, Any]:
    found = service.report(runtime, actor, f"{service_name}/{check}", timedelta(minutes=window))
    return {"check": found.check_id, "target": runtime.redact(found.target), "at": found.at.isoformat(),
            "values": found.values, "snapshot": found.snapshot, "growth_bytes": found.growth,
            "queries": queries_dict(found.queries)}


@router.get("/{service_name}/{check}/queries")
def queries(service_name: str, check: str, since: Minutes = 60, runtime: Runtime = Depends(get_runtime),
            actor: Principal = Depends(viewer)) -> dict[str, Any]:
    found = service.top_queries(runtime, actor, f"{service_name}/{check}", timedelta(minutes=since))
    return queries_dict(found)


@router.get("/{service_name}/{check}/history")
def history(service_name: str, check: str, since: Minutes = 60 * 24, runtime: Runtime = Depends(get_runtime),
            actor: Principal = Depends(viewer)) -> list[dict[str, Any]]:
    _cid, _spec, points = service.stored_history(runtime, actor, f"{service_name}/{check}",
                                                 timedelta(minutes=since))
    return [{"at": ts.isoformat(), "values": values} for ts, values in points]
