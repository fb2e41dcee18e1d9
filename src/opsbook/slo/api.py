"""HTTP API of the SLOs (viewer role): `/api/v1/slos` (every service's objectives now), `/api/v1/slos/
{service}` (one, with the budget left over the last window for a chart), and the monthly SLA report as a
download, `/api/v1/reports/sla?month=YYYY-MM&format=md|csv`. Figures are exact fractions given as floats;
times are ISO UTC. A service without an SLO is 404, a bad month 400."""

from __future__ import annotations

from datetime import datetime, timedelta
from fractions import Fraction
from typing import Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from opsbook.auth.roles import Principal, Role
from opsbook.runtime import Runtime
from opsbook.slo import report, service
from opsbook.slo.budget import Objective
from opsbook.slo.service import SloView
from opsbook.web.deps import get_runtime, require_role


class BurnOut(BaseModel):
    objective: Literal["availability", "latency"]
    name: str
    factor: float
    long: timedelta
    short: timedelta
    severity: str
    long_rate: float | None
    short_rate: float | None
    firing: bool


class ObjectiveOut(BaseModel):
    kind: Literal["availability", "latency"]
    target_percent: float
    below_ms: float | None = Field(default=None, description="latency: the threshold")
    window: timedelta
    sli: float | None = Field(description="Share good over the window (0..1); null: nothing known")
    budget_left: float | None = Field(description="Share of the error budget left (negative: overspent)")
    burn_rate: float | None = Field(
        description="Over the first burn alert's long window (1: the budget lasts the window)"
    )
    down_seconds: float | None = None
    allowed_down_seconds: float | None = None


class SloOut(BaseModel):
    service: str
    at: datetime
    checks: list[str]
    maintenance: str
    objectives: list[ObjectiveOut]
    burn_alerts: list[BurnOut]
    budget_chart: list[tuple[datetime, float | None]] = Field(
        default_factory=list, description="(instant, budget left in percent over the window ending then)"
    )


def _f(value: Fraction | None) -> float | None:
    return None if value is None else float(value)


def _objective(
    kind: Literal["availability", "latency"],
    figures: Objective,
    view: SloView,
    target: float,
    rate: Fraction | None,
) -> ObjectiveOut:
    return ObjectiveOut(
        kind=kind,
        target_percent=target,
        window=view.config.window,
        sli=_f(figures.sli),
        budget_left=_f(figures.budget_left),
        burn_rate=_f(rate),
    )


def slo_out(view: SloView) -> SloOut:
    slo, objectives = view.config, []
    if view.availability is not None and slo.availability is not None:
        found = _objective("availability", view.availability, view, float(slo.availability), view.burn_rate)
        found.down_seconds = view.availability.bad_us / 1e6
        found.allowed_down_seconds = float(view.availability.allowed_us / 10**6)
        objectives.append(found)
    if view.latency is not None and slo.latency is not None:
        found = _objective("latency", view.latency, view, float(slo.latency.target), view.latency_burn_rate)
        found.below_ms = slo.latency.below.total_seconds() * 1000
        objectives.append(found)
    burns = [
        BurnOut(
            objective=objective,
            name=b.config.name,
            factor=b.config.factor,
            long=b.config.long,
            short=b.config.short,
            severity=b.config.severity.value,
            long_rate=_f(b.long_rate),
            short_rate=_f(b.short_rate),
            firing=b.firing,
        )
        for objective, found_burns in (("availability", view.burns), ("latency", view.latency_burns))
        for b in found_burns
    ]
    return SloOut(
        service=slo.service,
        at=view.at,
        checks=view.checks,
        maintenance=slo.maintenance,
        objectives=objectives,
        burn_alerts=burns,
        budget_chart=view.chart,
    )


router = APIRouter(tags=["slos"])
viewer = require_role(Role.VIEWER)


@router.get("/api/v1/slos", response_model=list[SloOut])
def list_slos(runtime: Runtime = Depends(get_runtime), _who: Principal = Depends(viewer)) -> list[SloOut]:
    return [slo_out(v) for v in service.views(runtime)]


@router.get("/api/v1/slos/{name}", response_model=SloOut)
def get_slo(name: str, runtime: Runtime = Depends(get_runtime), _who: Principal = Depends(viewer)) -> SloOut:
    return slo_out(service.view(runtime, name))


MEDIA = {"md": "text/markdown; charset=utf-8", "csv": "text/csv; charset=utf-8"}


def sla_download(runtime: Runtime, month: str | None, fmt: Literal["md", "csv"]) -> Response:
    """The report of `month` (default: this month, to date) as an attachment (the API's and the UI's)."""
    now = runtime.clock.now()
    with runtime.sessions() as session:
        found = report.sla_report(
            session, runtime.config, month or report.this_month(now, runtime.config.timezone), now
        )
    body = report.to_csv(found) if fmt == "csv" else report.to_markdown(found)
    return Response(
        body,
        media_type=MEDIA[fmt],
        headers={"Content-Disposition": f'attachment; filename="sla-{found.month}.{fmt}"'},
    )


@router.get(
    "/api/v1/reports/sla",
    response_class=Response,
    responses={200: {"content": {"text/markdown": {}, "text/csv": {}}}},
)
def sla(
    month: str | None = Query(default=None, description="YYYY-MM in the team's zone (default: this month)"),
    fmt: Literal["md", "csv"] = Query(default="md", alias="format"),
    runtime: Runtime = Depends(get_runtime),
    _who: Principal = Depends(viewer),
) -> Response:
    return sla_download(runtime, month, fmt)
