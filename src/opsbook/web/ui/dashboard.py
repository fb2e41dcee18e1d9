"""The dashboard: services and checks with their state, open incidents, firing alerts, who is on call,
recent runbook runs. The live part is a partial the page polls with htmx every few seconds.

A fixed number of queries however many checks: all states in one, uptime of the shown page in two; the
check table is filtered and paginated in memory from the config.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from opsbook.alerts.service import list_alerts
from opsbook.auth.roles import Principal
from opsbook.checks import store
from opsbook.checks.uptime import uptime_many
from opsbook.chores.service import open_occurrences
from opsbook.oncall.service import on_call_now
from opsbook.runbooks.service import list_runs
from opsbook.runtime import Runtime
from opsbook.web.ui import incident_views
from opsbook.web.ui.pages import render, runtime_of, viewer

router = APIRouter(prefix="/ui", include_in_schema=False)

PAGE_SIZE = 50
ORDER = {"down": 0, "degraded": 1, None: 2, "up": 3}
POLL_SECONDS = 5


@dataclass(frozen=True)
class CheckLine:
    id: str
    service: str
    name: str
    kind: str
    status: str | None
    since: Any
    last_run: Any
    latency_ms: float | None
    message: str
    uptime_24h: float | None


@dataclass(frozen=True)
class ServiceLine:
    name: str
    public: bool
    status: str
    counts: dict[str, int]


def _worst(statuses: list[str | None]) -> str:
    for status in ("down", "degraded", "up"):
        if status in statuses:
            return status
    return "unknown"


def dashboard_context(
    runtime: Runtime, session: Session, service: str = "", status: str = "", q: str = "", page: int = 1
) -> dict[str, Any]:
    now = runtime.clock.now()
    checks = runtime.config.checks()
    states = store.states(session)  # one query for every check
    services = []
    for svc in runtime.config.services:
        statuses = [states[f"{svc.name}/{c.name}"].status if f"{svc.name}/{c.name}" in states else None
                    for c in svc.checks]
        counts = {s: statuses.count(s) for s in ("down", "degraded", "up")}
        counts["unknown"] = statuses.count(None)
        services.append(ServiceLine(svc.name, svc.public, _worst(statuses), counts))
    totals = {k: sum(s.counts[k] for s in services) for k in ("down", "degraded", "up", "unknown")}

    wanted = []
    needle = q.strip().lower()
    for check_id, spec in checks.items():
        row = states.get(check_id)
        st = row.status if row else None
        if service and not check_id.startswith(service + "/"):
            continue
        if status and (st or "unknown") != status:
            continue
        if needle and needle not in check_id.lower() and needle not in spec.kind:
            continue
        wanted.append((ORDER.get(st, 2), check_id, spec, row))
    wanted.sort(key=lambda w: (w[0], w[1]))
    pages = max(1, -(-len(wanted) // PAGE_SIZE))
    page = min(max(1, page), pages)
    shown = wanted[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    ups = uptime_many(session, [w[1] for w in shown], now - timedelta(hours=24), now) if shown else {}
    lines = []
    for _, check_id, spec, row in shown:
        svc_name, _, name = check_id.partition("/")
        lines.append(
            CheckLine(
                id=check_id, service=svc_name, name=name, kind=spec.kind,
                status=row.status if row else None, since=row.since if row else None,
                last_run=row.last_ts if row else None, latency_ms=row.last_latency_ms if row else None,
                message=runtime.redact(row.last_message or "") if row else "",
                uptime_24h=ups[check_id].percent if check_id in ups else None,
            )
        )
    params = {k: v for k, v in (("service", service), ("status", status), ("q", q)) if v}
    return {
        "services": services,
        "totals": totals,
        "checks": lines,
        "matching": len(wanted),
        "page": page,
        "pages": pages,
        "filters": {"service": service, "status": status, "q": q},
        "query": urlencode({**params, "page": page}),
        "prev_query": urlencode({**params, "page": page - 1}),
        "next_query": urlencode({**params, "page": page + 1}),
        "alerts": list_alerts(session, state="firing", limit=20),
        "incidents": incident_views.open_incidents(session, limit=20),
        "oncall": on_call_now(session, runtime.config, now),
        "runs": list_runs(session, limit=8),
        "chores": open_occurrences(session, limit=8),
        "poll": POLL_SECONDS,
    }


@router.get("/", response_class=HTMLResponse)
def dashboard(
    request: Request,
    principal: Principal = Depends(viewer),
    service: str = "",
    status: str = "",
    q: str = "",
    page: int = 1,
) -> HTMLResponse:
    runtime = runtime_of(request)
    with runtime.sessions() as session:
        context = dashboard_context(runtime, session, service, status, q, page)
    return render(request, "ui/dashboard.html", title="Dashboard", section="Dashboard", **context)


@router.get("/dashboard/live", response_class=HTMLResponse)
def dashboard_live(
    request: Request,
    principal: Principal = Depends(viewer),
    service: str = "",
    status: str = "",
    q: str = "",
    page: int = 1,
) -> HTMLResponse:
    """The self-updating part of the dashboard (htmx polls it)."""
    runtime = runtime_of(request)
    with runtime.sessions() as session:
        context = dashboard_context(runtime, session, service, status, q, page)
    return render(request, "ui/_dashboard_live.html", **context)
