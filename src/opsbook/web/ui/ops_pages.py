"""On-call (this and next week as a calendar, overrides, handoff notes), runbooks (procedures, runs with
their step outputs), the operations log, and the audit log (admins)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from opsbook.auth.audit import recent
from opsbook.auth.roles import Principal, Role
from opsbook.errors import Invalid
from opsbook.oncall import service as oncall
from opsbook.oncall.rotation import Shift
from opsbook.oplog.service import list_entries
from opsbook.runbooks import service as runbooks
from opsbook.web.params import Id
from opsbook.web.ui.pages import back, needs, render, runtime_of, viewer

responder = needs(Role.RESPONDER)  # the use cases check it too; declared for early refusal
router = APIRouter(prefix="/ui", include_in_schema=False)
admin = needs(Role.ADMIN)


@dataclass(frozen=True)
class Day:
    day: date
    today: bool
    shifts: list[tuple[str, str, bool]]  # (user, "09:00–24:00", override)


def week_grid(
    shifts: list[Shift], monday: date, timezone: str, today: date, weeks: int = 2
) -> list[list[Day]]:
    """Weeks of days from `monday` in `timezone`, each with the shifts that touch it (pure)."""
    zone = ZoneInfo(timezone)
    grid = []
    for w in range(weeks):
        row = []
        for d in range(7):
            day = monday + timedelta(days=7 * w + d)
            start = datetime(day.year, day.month, day.day, tzinfo=zone)
            end = start + timedelta(days=1)
            found = []
            for s in shifts:
                if s.start < end and s.end > start:
                    a = max(s.start, start).astimezone(zone)
                    b = min(s.end, end).astimezone(zone)
                    label = f"{a:%H:%M}–{'24:00' if b == end else f'{b:%H:%M}'}"
                    found.append((s.user, label, s.is_override))
            row.append(Day(day, day == today, found))
        grid.append(row)
    return grid


@router.get("/oncall", response_class=HTMLResponse)
def oncall_page(request: Request, principal: Principal = Depends(viewer)) -> HTMLResponse:
    runtime = runtime_of(request)
    config = runtime.config
    now = runtime.clock.now()
    schedules = []
    with runtime.sessions() as session:
        for schedule in config.schedules:
            zone = ZoneInfo(schedule.timezone)
            today = now.astimezone(zone).date()
            monday = today - timedelta(days=today.weekday())
            start = datetime(monday.year, monday.month, monday.day, tzinfo=zone)
            shifts = oncall.schedule_shifts(session, config, schedule.name, start, start + timedelta(days=14))
            schedules.append((schedule, week_grid(shifts, monday, schedule.timezone, today)))
        current = {o.schedule: o for o in oncall.on_call_now(session, config, now)}
        overrides = oncall.list_overrides(
            session, since=now - timedelta(days=1), until=now + timedelta(days=14)
        )
        notes = oncall.handoff_notes(session, limit=30)
    return render(
        request,
        "ui/oncall.html",
        title="On-call",
        section="On-call",
        schedules=schedules,
        current=current,
        overrides=overrides,
        notes=notes,
        weekdays=["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
    )


@router.post("/oncall/handoff")
def add_handoff(
    request: Request, schedule: str = Form(...), note: str = Form(""), who: Principal = Depends(responder)
) -> Response:
    """Keep a handoff note (the use case needs the responder role; a viewer's attempt is answered 403)."""
    try:
        oncall.add_handoff_note(runtime_of(request), who, schedule, note)
    except Invalid as exc:
        return back("/ui/oncall", str(exc), "error")
    return back("/ui/oncall", "Handoff note kept.")


@router.get("/runbooks", response_class=HTMLResponse)
def runbooks_page(request: Request, principal: Principal = Depends(viewer)) -> HTMLResponse:
    runtime = runtime_of(request)
    catalog = runbooks.catalog_for(runtime.config.runbooks, runtime.loaded.path)
    with runtime.sessions() as session:
        runs = runbooks.list_runs(session, limit=50)
    return render(
        request,
        "ui/runbooks.html",
        title="Runbooks",
        section="Runbooks",
        procedures=catalog.listing(),
        errors=catalog.errors,
        runs=runs,
    )


@router.get("/runbooks/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, run_id: Id, principal: Principal = Depends(viewer)) -> HTMLResponse:
    runtime = runtime_of(request)
    with runtime.sessions() as session:
        try:
            run = runbooks.get_run(session, run_id)
        except runbooks.RunNotFound:
            raise HTTPException(404, f"no run {run_id}") from None
        steps = runbooks.steps_of(session, run_id)
    return render(
        request,
        "ui/run.html",
        title=f"Run #{run_id}",
        section="Runbooks",
        run=run,
        steps=steps,
        redact=runtime.redact,
    )


@router.get("/oplog", response_class=HTMLResponse)
def oplog_page(request: Request, principal: Principal = Depends(viewer)) -> HTMLResponse:
    runtime = runtime_of(request)
    with runtime.sessions() as session:
        entries = list_entries(session, limit=200)
    return render(request, "ui/oplog.html", title="Operations log", section="Ops log", entries=entries)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, principal: Principal = Depends(admin)) -> HTMLResponse:
    runtime = runtime_of(request)
    with runtime.sessions() as session:
        rows = recent(session, limit=300)
    return render(
        request, "ui/audit.html", title="Audit log", section="Audit", rows=rows, redact=runtime.redact
    )
