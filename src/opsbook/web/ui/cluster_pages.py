"""The cluster in the browser (`/ui/cluster`, viewer role): the processes sharing this PostgreSQL database,
alive or gone, with their roles, leases, duties, last heartbeat and lag (opsbook.cluster.status)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from opsbook.auth.roles import Principal
from opsbook.cluster.status import cluster_status
from opsbook.web.ui.pages import render, runtime_of, viewer

router = APIRouter(prefix="/ui", include_in_schema=False)


@router.get("/cluster", response_class=HTMLResponse)
def cluster_page(request: Request, principal: Principal = Depends(viewer)) -> HTMLResponse:
    found = cluster_status(runtime_of(request))
    return render(request, "ui/cluster.html", title="Cluster", section="Cluster", cluster=found)
