"""Alerts, silences and maintenance windows in the browser.

Reading needs a signed-in user; creating and expiring silences and maintenance windows needs the responder
role. The silences service validates and audit-logs each change.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from opsbook.alerts.service import list_alerts
from opsbook.auth.roles import Principal, Role
from opsbook.config.types import parse_duration
from opsbook.silences import service as silences
from opsbook.silences.matchers import MatcherError, parse_matcher
from opsbook.web.ui.pages import back, needs, render, runtime_of, viewer

router = APIRouter(prefix="/ui", include_in_schema=False)
responder = needs(Role.RESPONDER)
ALERT_STATES = ("firing", "pending", "resolved")


def _invalidate(request: Request) -> None:
    cache = getattr(request.app.state, "status_cache", None)
    if cache is not None:
        cache.invalidate()


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(
    request: Request,
    state: str = "",
    service: str = "",
    before: int | None = None,
    principal: Principal = Depends(viewer),
) -> HTMLResponse:
    runtime = runtime_of(request)
    with runtime.sessions() as session:
        rows = list_alerts(session, state=state or None, service=service or None, limit=100, before_id=before)
    return render(
        request,
        "ui/alerts.html",
        title="Alerts",
        section="Alerts",
        alerts=rows,
        state=state,
        service=service,
        states=ALERT_STATES,
        more=len(rows) == 100,
        last_id=rows[-1].id if rows else None,
        redact=runtime.redact,
    )


@router.get("/silences", response_class=HTMLResponse)
def silences_page(request: Request, principal: Principal = Depends(viewer)) -> HTMLResponse:
    runtime = runtime_of(request)
    now = runtime.clock.now()
    with runtime.sessions() as session:
        rows = silences.list_silences(session, now, limit=200)
        shown = [(row, silences.silence_state(row, now)) for row in rows]
    return render(
        request,
        "ui/silences.html",
        title="Silences",
        section="Silences",
        silences=shown,
        matcher=request.query_params.get("matcher", ""),
    )


def _when(value: str, now: datetime) -> datetime:
    """'now', a duration from now ('2h'), or an ISO date-time (UTC if no zone)."""
    text = value.strip()
    if not text or text == "now":
        return now
    try:
        return now + parse_duration(text)
    except ValueError:
        pass
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=now.tzinfo)


@router.post("/silences")
def create_silence(
    request: Request,
    matchers: str = Form(...),
    duration: str = Form("2h"),
    comment: str = Form(""),
    who: Principal = Depends(responder),
) -> Response:
    runtime = runtime_of(request)
    now = runtime.clock.now()
    try:
        parsed = [parse_matcher(m.strip()) for m in matchers.replace("\n", ",").split(",") if m.strip()]
        length: timedelta = parse_duration(duration.strip())
        with runtime.sessions.begin() as session:
            row = silences.create_silence(session, now, who, parsed, ends_at=now + length, comment=comment)
            silence_id = row.id
    except (MatcherError, silences.SilenceError, ValueError) as exc:
        return back("/ui/silences", str(exc), "error")
    return back("/ui/silences", f"Silence #{silence_id} created.")


@router.post("/silences/{silence_id}/expire")
def expire_silence(request: Request, silence_id: int, who: Principal = Depends(responder)) -> Response:
    runtime = runtime_of(request)
    try:
        with runtime.sessions.begin() as session:
            silences.expire_silence(session, runtime.clock.now(), who, silence_id)
    except (silences.NotFound, silences.AlreadyEnded) as exc:
        return back("/ui/silences", str(exc), "error")
    return back("/ui/silences", f"Silence #{silence_id} expired.")


@router.get("/maintenance", response_class=HTMLResponse)
def maintenance_page(request: Request, principal: Principal = Depends(viewer)) -> HTMLResponse:
    runtime = runtime_of(request)
    now = runtime.clock.now()
    with runtime.sessions() as session:
        one_off = silences.list_maintenance(session, now, include_past=True, limit=100)
        upcoming = silences.upcoming_maintenance(session, now, runtime.config.maintenance_windows)
    return render(
        request,
        "ui/maintenance.html",
        title="Maintenance",
        section="Maintenance",
        windows=one_off,
        upcoming=upcoming,
        services=[s.name for s in runtime.config.services],
    )


@router.post("/maintenance")
def create_maintenance(
    request: Request,
    title: str = Form(""),
    services: list[str] = Form(default_factory=list),
    starts: str = Form("now"),
    duration: str = Form("1h"),
    description: str = Form(""),
    who: Principal = Depends(responder),
) -> Response:
    runtime = runtime_of(request)
    now = runtime.clock.now()
    try:
        start = _when(starts, now)
        with runtime.sessions.begin() as session:
            row = silences.create_maintenance(
                session,
                now,
                who,
                services,
                starts_at=start,
                ends_at=start + parse_duration(duration.strip()),
                title=title,
                description=description,
                known_services={s.name for s in runtime.config.services},
            )
            window_id = row.id
    except (silences.SilenceError, ValueError) as exc:
        return back("/ui/maintenance", str(exc), "error")
    _invalidate(request)
    return back("/ui/maintenance", f"Maintenance window #{window_id} scheduled.")


@router.post("/maintenance/{window_id}/cancel")
def cancel_maintenance(request: Request, window_id: int, who: Principal = Depends(responder)) -> Response:
    runtime = runtime_of(request)
    try:
        with runtime.sessions.begin() as session:
            silences.cancel_maintenance(session, runtime.clock.now(), who, window_id)
    except (silences.NotFound, silences.AlreadyEnded) as exc:
        return back("/ui/maintenance", str(exc), "error")
    _invalidate(request)
    return back("/ui/maintenance", f"Maintenance window #{window_id} cancelled.")
