"""One check: state, latency chart (p50/p95 of rollups), 90-day uptime bars, recent failures, changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.auth.roles import Principal
from opsbook.checks import rollup, store
from opsbook.checks.heartbeat_watch import recent_pings
from opsbook.checks.models import CheckStateRow, StateChangeRow
from opsbook.config.types import format_duration
from opsbook.deploys.queries import chart_markers as deploy_markers
from opsbook.locations.views import located_views
from opsbook.runtime import Runtime
from opsbook.statuspage.figures import uptime_text
from opsbook.statuspage.snapshot import daily_uptime, day_starts, merge_days, period_uptime
from opsbook.web.ui.charts import Series, line_chart
from opsbook.web.ui.pages import render, runtime_of, viewer

router = APIRouter(prefix="/ui", include_in_schema=False)

RANGES = {
    "6h": (timedelta(hours=6), rollup.MINUTE, "%H:%M"),
    "24h": (timedelta(hours=24), rollup.MINUTE, "%H:%M"),
    "7d": (timedelta(days=7), rollup.HOUR, "%a %d"),
    "30d": (timedelta(days=30), rollup.HOUR, "%b %d"),
}
DAYS = 90
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def check_context(runtime: Runtime, session: Session, check_id: str, range_: str) -> dict[str, Any]:
    spec = runtime.config.checks().get(check_id)
    if spec is None:
        raise HTTPException(404, f"no check {check_id}")
    now = runtime.clock.now()
    length, resolution, time_format = RANGES.get(range_, RANGES["24h"])
    start = now - length
    rows = rollup.rollups(session, check_id, resolution, start, now)
    p50 = [(r.bucket, r.latency_percentile(0.50)) for r in rows]
    p95 = [(r.bucket, r.latency_percentile(0.95)) for r in rows]
    service = check_id.partition("/")[0]
    chart = line_chart(
        [Series("p50", "#2f6fdb", p50), Series("p95", "#e8772e", p95)], start, now, time_format=time_format,
        zone=runtime.config.timezone, markers=deploy_markers(session, service, start, now),
    )
    failures_in = sum(r.failures for r in rows)
    runs_in = sum(r.count for r in rows)

    starts = day_starts(now, DAYS, runtime.config.timezone)
    before = session.scalar(
        select(StateChangeRow.to_status)
        .where(StateChangeRow.check_id == check_id, StateChangeRow.ts <= starts[0])
        .order_by(StateChangeRow.ts.desc(), StateChangeRow.id.desc())
        .limit(1)
    )
    changes = [
        (ts, status)
        for ts, status in session.execute(
            select(StateChangeRow.ts, StateChangeRow.to_status)
            .where(StateChangeRow.check_id == check_id, StateChangeRow.ts > starts[0])
            .where(StateChangeRow.ts < now)
            .order_by(StateChangeRow.ts, StateChangeRow.id)
        )
    ]
    days = daily_uptime(changes, before, starts, now)
    bars = merge_days([days], starts)
    week = daily_uptime(changes, before, starts[-7:], now) if len(starts) >= 7 else days
    ninety, seven = period_uptime([days]), period_uptime([week])

    failures = store.results(session, check_id, EPOCH, now + timedelta(microseconds=1), 25,
                             statuses=("degraded", "down"))
    recent_changes = list(
        session.scalars(
            select(StateChangeRow)
            .where(StateChangeRow.check_id == check_id)
            .order_by(StateChangeRow.ts.desc(), StateChangeRow.id.desc())
            .limit(25)
        )
    )
    service, _, name = check_id.partition("/")
    return {
        "check_id": check_id,
        "service": service,
        "name": name,
        "spec": spec,
        "target": runtime.redact(spec.target()),
        "interval": None if spec.push else format_duration(spec.interval),
        "state": session.get(CheckStateRow, check_id),
        "located": located_views(session, {check_id: spec}, [check_id], runtime.clock.now()).get(check_id),
        "chart": chart,
        "range": range_ if range_ in RANGES else "24h",
        "ranges": list(RANGES),
        "runs_in": runs_in,
        "failures_in": failures_in,
        "bars": bars,
        "uptime_90d": uptime_text(ninety.up_seconds, ninety.known_seconds),
        "uptime_7d": uptime_text(seven.up_seconds, seven.known_seconds),
        "failures": [(r.ts, r.status, runtime.redact(r.message)) for r in failures],
        "changes": [(c.ts, c.from_status, c.to_status, runtime.redact(c.message)) for c in recent_changes],
        "pings": [(p.ts, p.kind, p.exit_code, runtime.redact(p.message))
                  for p in recent_pings(session, check_id, 25)] if spec.push else None,
        "redact": runtime.redact,
    }


@router.get("/checks/{service}/{check}", response_class=HTMLResponse)
def check_page(
    request: Request, service: str, check: str, range: str = "24h", principal: Principal = Depends(viewer)
) -> HTMLResponse:
    runtime = runtime_of(request)
    with runtime.sessions() as session:
        context = check_context(runtime, session, f"{service}/{check}", range)
    return render(request, "ui/check.html", title=f"{service}/{check}", section="Dashboard", **context)
