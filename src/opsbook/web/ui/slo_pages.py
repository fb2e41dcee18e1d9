"""Service level objectives in the browser: `/ui/slo` (every service: objective, SLI, budget left, burn
rate; the monthly SLA report to download) and `/ui/slo/SERVICE` (its objectives, the budget left over the
last window as a chart, its burn alerts)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from opsbook.auth.roles import Principal
from opsbook.slo import service as slos
from opsbook.slo import shown
from opsbook.slo.api import sla_download
from opsbook.slo.report import this_month
from opsbook.web.ui.charts import Series, line_chart
from opsbook.web.ui.pages import render, runtime_of, viewer

router = APIRouter(prefix="/ui", include_in_schema=False)


@router.get("/slo", response_class=HTMLResponse)
def slo_list(request: Request, principal: Principal = Depends(viewer)) -> HTMLResponse:
    runtime = runtime_of(request)
    return render(
        request,
        "ui/slos.html",
        title="SLOs",
        section="SLOs",
        views=slos.views(runtime),
        shown=shown,
        month=this_month(runtime.clock.now(), runtime.config.timezone),
    )


@router.get("/slo/report")
def sla_report(
    request: Request,
    month: str | None = None,
    format: Literal["md", "csv"] = "md",
    principal: Principal = Depends(viewer),
) -> Response:
    return sla_download(runtime_of(request), month or None, format)


@router.get("/slo/{service}", response_class=HTMLResponse)
def slo_page(request: Request, service: str, principal: Principal = Depends(viewer)) -> HTMLResponse:
    runtime = runtime_of(request)
    view = slos.view(runtime, service)
    chart = None
    if view.chart:
        points = [(t, None if v is None else max(v, 0.0)) for t, v in view.chart]  # overspent shows as 0
        chart = line_chart(
            [Series("budget left", "#2e9d5b", points)],
            points[0][0],
            points[-1][0],
            unit="%",
            time_format="%m-%d",
            zone=runtime.config.timezone,
        )
    return render(
        request, "ui/slo.html", title=f"SLO {service}", section="SLOs", view=view, chart=chart, shown=shown
    )
