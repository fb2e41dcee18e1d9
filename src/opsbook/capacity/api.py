"""`/api/v1/capacity`: the capacity table with trends and dates; one resource with its hourly history."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from opsbook.auth.roles import Principal, Role
from opsbook.capacity import service
from opsbook.capacity.views import history_dict, view_dict
from opsbook.runtime import Runtime
from opsbook.web.deps import get_runtime, require_role

router = APIRouter(prefix="/api/v1/capacity", tags=["capacity"])
viewer = require_role(Role.VIEWER)


@router.get("")
def table(
    runtime: Runtime = Depends(get_runtime), actor: Principal = Depends(viewer)
) -> list[dict[str, Any]]:
    return [view_dict(v) for v in service.capacity_table(runtime, actor)]


@router.get("/{name}")
def resource(name: str, runtime: Runtime = Depends(get_runtime),
             actor: Principal = Depends(viewer)) -> dict[str, Any]:
    return history_dict(service.resource_history(runtime, actor, name))
