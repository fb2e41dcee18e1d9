"""Database care and capacity pages: the databases and maintenance tasks, one database's report with
its history, and the capacity table with each resource's history and forecast line."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from opsbook.auth.roles import Principal
from opsbook.capacity import service as capacity
from opsbook.capacity.cli import cells as capacity_cells
from opsbook.capacity.forecast import Trend
from opsbook.postgres import service as postgres
from opsbook.postgres import upkeep
from opsbook.web.ui.charts import Series, line_chart
from opsbook.web.ui.pages import render, runtime_of, viewer

router = APIRouter(prefix="/ui", include_in_schema=False)

RANGES = {"24h": (timedelta(hours=24), "%H:%M"), "7d": (timedelta(days=7), "%a %d"),
          "30d": (timedelta(days=30), "%b %d")}
CHARTS = (  # title, unit, [(value name, colour)]
    ("Connections", "%", [("connections_pct", "#2f6fdb")]),
    ("Long-running and blocked queries", "", [("long_queries", "#e8772e"), ("blocked_queries", "#c0392b")]),
    ("Dead tuples, worst table", "%", [("max_dead_pct", "#8e44ad")]),
    ("Cache hit ratio", "%", [("cache_hit_pct", "#27ae60")]),
    ("Database size", "MB", [("database_mb", "#2f6fdb")]),
)
AHEAD = timedelta(days=14)


@router.get("/postgres", response_class=HTMLResponse)
def databases_page(request: Request, principal: Principal = Depends(viewer)) -> HTMLResponse:
    runtime = runtime_of(request)
    found = sorted(postgres.databases(runtime).items())
    rows = [(cid, runtime.redact(spec.target()), ", ".join(spec.measures())) for cid, spec in found]
    return render(request, "ui/databases.html", title="Databases", section="Capacity", databases=rows,
                  tasks=upkeep.plan(runtime), redact=runtime.redact)


def _series(
    points: list[tuple[datetime, dict[str, float]]], name: str
) -> list[tuple[datetime, float | None]]:
    if name == "database_mb":
        return [(ts, v["database_bytes"] / 1e6 if "database_bytes" in v else None) for ts, v in points]
    return [(ts, v.get(name)) for ts, v in points]


@router.get("/postgres/{service}/{check}", response_class=HTMLResponse)
def database_page(request: Request, service: str, check: str, range: str = "24h",
                  principal: Principal = Depends(viewer)) -> HTMLResponse:
    runtime = runtime_of(request)
    length, time_format = RANGES.get(range, RANGES["24h"])
    check_id, spec, points = postgres.stored_history(runtime, principal, f"{service}/{check}", length)
    now = runtime.clock.now()
    zone = runtime.config.timezone
    charts = [
        (title, line_chart([Series(name, colour, _series(points, name)) for name, colour in names],
                           now - length, now, unit=unit, time_format=time_format, zone=zone))
        for title, unit, names in CHARTS
    ]
    report: postgres.Report | None = None
    error = ""
    try:
        report = postgres.report(runtime, principal, check_id)
    except postgres.DatabaseUnreachable as exc:
        error = runtime.redact(str(exc))
    return render(request, "ui/database.html", title=check_id, section="Capacity", check_id=check_id,
                  target=runtime.redact(spec.target()), charts=charts, report=report, error=error,
                  range=range if range in RANGES else "24h", ranges=list(RANGES), samples=len(points),
                  mb=_mb, span=_span)


def _mb(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value / 1e6:.1f} MB" if abs(value) >= 1e5 else f"{value / 1e3:.0f} kB"


def _span(seconds: float | None) -> str:
    from opsbook.timefmt import show_span

    return "never" if seconds is None else show_span(seconds)


def _capacity_chart(found: capacity.ResourceHistory, zone: str, now: datetime) -> Any:
    view = found.view
    resource = view.resource
    start = now - (found.points[-1][0] - found.points[0][0] if found.points else timedelta(days=14))
    ahead = AHEAD
    if isinstance(view.trend, Trend):
        full = view.trend.reaches(resource.capacity)
        if full is not None:
            ahead = max(min(AHEAD, full - now), timedelta(days=1))
    end = now + ahead
    series = [Series("value", "#2f6fdb", list(found.points))]
    if isinstance(view.trend, Trend):
        series.append(Series("trend", "#e8772e", capacity.fitted_line(view, found.points, ahead)))
    for step in resource.plan:
        series.append(Series(f"{step.at:g}{resource.unit}", "#c0392b", [(start, step.at), (end, step.at)]))
    return line_chart(series, start, end, unit=resource.unit.strip(), time_format="%b %d", zone=zone)


@router.get("/capacity", response_class=HTMLResponse)
def capacity_page(request: Request, principal: Principal = Depends(viewer)) -> HTMLResponse:
    runtime = runtime_of(request)
    zone = runtime.config.timezone
    now = runtime.clock.now()
    resources = []
    for view in capacity.capacity_table(runtime, principal):
        found = capacity.resource_history(runtime, principal, view.resource.name)
        resources.append((capacity_cells(view, zone), view, _capacity_chart(found, zone, now)))
    databases = sorted(postgres.databases(runtime))
    return render(request, "ui/capacity.html", title="Capacity", section="Capacity", resources=resources,
                  databases=databases)
