"""`/api/v1/oplog`: operations log entries (viewer reads; a responder adds one through the use case
`oplog.service.log_operation`), Markdown export."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from opsbook.auth.roles import Principal, Role
from opsbook.oplog import service
from opsbook.oplog.markdown import export_markdown
from opsbook.runtime import Runtime
from opsbook.web.deps import get_runtime, require_role
from opsbook.web.params import Days, Id, Limit

router = APIRouter(prefix="/api/v1/oplog", tags=["oplog"])
viewer = require_role(Role.VIEWER)
responder = require_role(Role.RESPONDER)


class NewEntry(BaseModel):
    operation: str = Field(min_length=1, description="What you did.")
    reason: str = ""
    impact: str = ""
    duration_s: float | None = Field(default=None, ge=0)
    issues: str = ""
    follow_up: str = ""
    incident_id: str | None = None
    at: datetime | None = Field(default=None, description="When it was done (default: now).")


@router.get("")
def list_entries(
    incident_id: str | None = None,
    limit: Limit = 100,
    runtime: Runtime = Depends(get_runtime),
    _: Principal = Depends(viewer),
) -> list[dict[str, Any]]:
    with runtime.sessions() as session:
        return [
            service.entry_dict(r) for r in service.list_entries(session, incident_id=incident_id, limit=limit)
        ]


@router.get("/export", response_class=PlainTextResponse)
def export(
    incident_id: str | None = None,
    days: Days = 30,
    runtime: Runtime = Depends(get_runtime),
    _: Principal = Depends(viewer),
) -> str:
    since = runtime.clock.now() - timedelta(days=days)
    with runtime.sessions() as session:
        rows = list(reversed(service.list_entries(session, incident_id=incident_id, since=since, limit=1000)))
        return export_markdown(rows, zone=runtime.config.timezone)


@router.get("/{entry_id}")
def get_entry(
    entry_id: Id, runtime: Runtime = Depends(get_runtime), _: Principal = Depends(viewer)
) -> dict[str, Any]:
    with runtime.sessions() as session:
        return service.entry_dict(service.get_entry(session, entry_id))


@router.post("", status_code=201)
def add_entry(
    body: NewEntry, runtime: Runtime = Depends(get_runtime), who: Principal = Depends(responder)
) -> dict[str, Any]:
    row = service.log_operation(
        runtime,
        who,
        operation=body.operation,
        at=body.at,
        reason=body.reason,
        impact=body.impact,
        duration_s=body.duration_s,
        issues=body.issues,
        follow_up=body.follow_up,
        incident_id=body.incident_id,
    )
    return service.entry_dict(row)
