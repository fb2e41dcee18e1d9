"""REST routes of the checks domain: services, checks, results, rollups, uptime, a heartbeat's ping log;
and the heartbeat pings themselves (`/ping/<token>[/start|/fail|/log|/<exit code>]`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel
from sqlalchemy.orm import Session

from opsbook.auth.roles import Role
from opsbook.checks import rollup, store
from opsbook.checks.heartbeat_watch import KEEP_PINGS, SIGNALS, ping_values, recent_pings
from opsbook.checks.models import CheckStateRow
from opsbook.checks.spec import CheckSpec
from opsbook.checks.uptime import uptime, uptime_many
from opsbook.config.types import format_duration
from opsbook.locations.units import unit_id
from opsbook.locations.views import located_views
from opsbook.runtime import Runtime
from opsbook.timefmt import parse_span
from opsbook.web.deps import get_runtime, get_session, require_role
from opsbook.web.params import query_when, when_query

router = APIRouter(prefix="/api/v1", tags=["checks"], dependencies=[Depends(require_role(Role.VIEWER))])
pings = APIRouter(tags=["heartbeats"])


class CheckState(BaseModel):
    status: str | None
    since: datetime | None
    last_run: datetime | None
    last_latency_ms: float | None
    last_message: str
    consecutive_failures: int


class LocationOut(BaseModel):
    location: str
    status: str | None  # its newest result's (None: none yet)
    last_run: datetime | None
    last_latency_ms: float | None
    last_message: str
    reporting: bool  # its newest result is recent enough to count (about two intervals)
    agrees: bool


class LocationsOut(BaseModel):
    """A check probed from several locations: the verdict as of now and each location's newest result."""

    quorum: str  # "2 of 3": down when that many locations report down
    verdict: str
    summary: str  # "down from ap only"
    disagreeing: list[str]
    locations: list[LocationOut]


class CheckOut(BaseModel):
    id: str
    service: str
    name: str
    kind: str
    description: str
    target: str
    interval: str | None
    enabled: bool
    labels: dict[str, str]
    state: CheckState | None
    uptime_24h: float | None = None
    locations: LocationsOut | None = None  # only for a check with `locations:`


class ServiceOut(BaseModel):
    name: str
    description: str
    public: bool
    status: str
    checks: list[CheckOut]


def _check_out(runtime: Runtime, check_id: str, spec: CheckSpec, row: CheckStateRow | None) -> CheckOut:
    service, _, name = check_id.partition("/")
    state = None
    if row is not None and row.status is not None:
        state = CheckState(
            status=row.status,
            since=row.since,
            last_run=row.last_ts,
            last_latency_ms=row.last_latency_ms,
            last_message=runtime.redact(row.last_message or ""),
            consecutive_failures=row.consecutive_failures,
        )
    return CheckOut(
        id=check_id,
        service=service,
        name=name,
        kind=spec.kind,
        description=spec.description,
        target=runtime.redact(spec.target()),
        interval=None if spec.push else format_duration(spec.interval),
        enabled=spec.enabled,
        labels=spec.labels,
        state=state,
    )


def _with_locations(runtime: Runtime, session: Session, checks: list[CheckOut]) -> list[CheckOut]:
    views = located_views(session, runtime.config.checks(), [c.id for c in checks], runtime.clock.now())
    for item in checks:
        view = views.get(item.id)
        if view is None:
            continue
        item.locations = LocationsOut(
            quorum=view.quorum, verdict=view.verdict.status, summary=view.summary,
            disagreeing=view.disagreeing,
            locations=[LocationOut(
                location=line.location, status=line.status, last_run=line.last_ts,
                last_latency_ms=line.latency_ms, last_message=runtime.redact(line.message),
                reporting=line.reporting, agrees=line.agrees,
            ) for line in view.lines],
        )
    return checks


def _all_checks(runtime: Runtime, session: Session) -> list[CheckOut]:
    checks = runtime.config.checks()
    rows = store.states(session, checks)
    now = runtime.clock.now()
    ups = uptime_many(session, list(checks), now - timedelta(hours=24), now)
    out = []
    for check_id, spec in checks.items():
        item = _check_out(runtime, check_id, spec, rows.get(check_id))
        item.uptime_24h = ups[check_id].percent
        out.append(item)
    return _with_locations(runtime, session, out)


def worst(statuses: list[str | None]) -> str:
    """A service's status from its checks' statuses: down > degraded > up > unknown."""
    for status in ("down", "degraded", "up"):
        if status in statuses:
            return status
    return "unknown"


@router.get("/services", response_model=list[ServiceOut])
def list_services(
    runtime: Runtime = Depends(get_runtime), session: Session = Depends(get_session)
) -> list[ServiceOut]:
    checks = _all_checks(runtime, session)
    out = []
    for service in runtime.config.services:
        mine = [c for c in checks if c.service == service.name]
        out.append(
            ServiceOut(
                name=service.name,
                description=service.description,
                public=service.public,
                status=worst([c.state.status if c.state else None for c in mine]),
                checks=mine,
            )
        )
    return out


@router.get("/checks", response_model=list[CheckOut])
def list_checks(
    runtime: Runtime = Depends(get_runtime),
    session: Session = Depends(get_session),
    service: str | None = None,
    status: str | None = None,
) -> list[CheckOut]:
    checks = _all_checks(runtime, session)
    return [
        c
        for c in checks
        if (service is None or c.service == service)
        and (status is None or (c.state and c.state.status == status))
    ]


def _spec(runtime: Runtime, service: str, check: str) -> CheckSpec:
    spec = runtime.config.checks().get(f"{service}/{check}")
    if spec is None:
        raise HTTPException(404, f"no check {service}/{check}")
    return spec


def _range(
    runtime: Runtime, start: str | None, end: str | None, default: timedelta, until: datetime | None = None
) -> tuple[datetime, datetime]:
    """The `start` and `end` query parameters as instants: `end` by default `until` (default now), `start`
    by default `default` before `end`."""
    finish = query_when("end", end, runtime) or until or runtime.clock.now()
    begin = query_when("start", start, runtime) or finish - default
    if begin >= finish:
        raise HTTPException(400, "start must be before end")
    return begin, finish


@router.get("/checks/{service}/{check}", response_model=CheckOut)
def get_check(
    service: str, check: str, runtime: Runtime = Depends(get_runtime), session: Session = Depends(get_session)
) -> CheckOut:
    spec = _spec(runtime, service, check)
    check_id = f"{service}/{check}"
    item = _check_out(runtime, check_id, spec, session.get(CheckStateRow, check_id))
    return _with_locations(runtime, session, [item])[0]


@router.get("/checks/{service}/{check}/results")
def get_results(
    service: str,
    check: str,
    runtime: Runtime = Depends(get_runtime),
    session: Session = Depends(get_session),
    start: str | None = when_query("Default: an hour before end."),
    end: str | None = when_query("Default: now."),
    limit: Annotated[int, Query(ge=1, le=10000)] = 500,
    location: Annotated[str | None, Query(description="One location's own results (a check with locations)")]
    = None,
) -> list[dict[str, Any]]:
    spec = _spec(runtime, service, check)
    stored_as = f"{service}/{check}"
    if location is not None:
        if location not in spec.locations:
            raise HTTPException(404, f"{service}/{check} is not probed from {location!r} (its locations: "
                                     f"{', '.join(spec.locations) or 'none'})")
        stored_as = unit_id(stored_as, location)
    up_to_now = runtime.clock.now() + timedelta(microseconds=1)  # a result stamped this instant is shown
    begin, finish = _range(runtime, start, end, timedelta(hours=1), up_to_now)
    return [
        {
            "ts": r.ts,
            "status": r.status,
            "latency_ms": r.latency_ms,
            "message": runtime.redact(r.message),
            "values": r.values,
        }
        for r in store.results(session, stored_as, begin, finish, limit)
    ]


class PingOut(BaseModel):
    ts: datetime
    kind: str  # start | success | fail | exit | log
    exit_code: int | None
    message: str


@router.get("/checks/{service}/{check}/pings", response_model=list[PingOut])
def get_pings(
    service: str,
    check: str,
    runtime: Runtime = Depends(get_runtime),
    session: Session = Depends(get_session),
    limit: Annotated[int, Query(ge=1, le=KEEP_PINGS)] = KEEP_PINGS,
) -> list[PingOut]:
    """A heartbeat's ping log, newest first: every ping with what the job sent, `/log` messages included."""
    spec = _spec(runtime, service, check)
    if not spec.push:
        raise HTTPException(404, f"{service}/{check} is a {spec.kind} check: it receives no pings")
    return [PingOut(ts=p.ts, kind=p.kind, exit_code=p.exit_code, message=runtime.redact(p.message))
            for p in recent_pings(session, f"{service}/{check}", limit)]


@router.get("/checks/{service}/{check}/rollups")
def get_rollups(
    service: str,
    check: str,
    runtime: Runtime = Depends(get_runtime),
    session: Session = Depends(get_session),
    resolution: Literal["1m", "1h"] = "1h",
    start: str | None = when_query("Default: 24 hours (1m) or 7 days (1h) before end."),
    end: str | None = when_query("Default: now."),
) -> list[dict[str, Any]]:
    _spec(runtime, service, check)
    seconds = rollup.MINUTE if resolution == "1m" else rollup.HOUR
    begin, finish = _range(
        runtime, start, end, timedelta(hours=24) if seconds == rollup.MINUTE else timedelta(days=7)
    )
    out = []
    for r in rollup.rollups(session, f"{service}/{check}", seconds, begin, finish):
        lo, hi = r.latency_min, r.latency_max
        out.append(
            {
                "bucket": r.bucket,
                "count": r.count,
                "failures": r.failures,
                "degraded": r.degraded,
                "latency_avg_ms": r.latency_sum / r.latency_count if r.latency_count else None,
                "latency_min_ms": lo,
                "latency_max_ms": hi,
                "latency_p50_ms": r.latency_percentile(0.50),
                "latency_p95_ms": r.latency_percentile(0.95),
                "latency_p99_ms": r.latency_percentile(0.99),
            }
        )
    return out


@router.get("/checks/{service}/{check}/uptime")
def get_uptime(
    service: str,
    check: str,
    runtime: Runtime = Depends(get_runtime),
    session: Session = Depends(get_session),
    period: str | None = Query(None, description="e.g. 24h, 7d, 30d (instead of start/end)"),
    start: str | None = when_query("Default: 24 hours before end."),
    end: str | None = when_query("Default: now."),
) -> dict[str, Any]:
    _spec(runtime, service, check)
    if period is not None:
        begin, finish = _range(runtime, None, end, parse_span(period))  # a bad period: 400 (Invalid)
    else:
        begin, finish = _range(runtime, start, end, timedelta(hours=24))
    up = uptime(session, f"{service}/{check}", begin, finish)
    return {
        "start": begin,
        "end": finish,
        "uptime_percent": up.percent,
        "up_seconds": up.up_seconds,
        "down_seconds": up.down_seconds,
        "unknown_seconds": (finish - begin).total_seconds() - up.known_seconds,
    }


async def ping(token: str, request: Request, signal: str = "") -> dict[str, str]:
    """Heartbeat: `/ping/<token>` (done), `/start`, `/fail`, `/<exit code>` (0–255), or `/log` (a message
    kept in the ping log that changes nothing); a POST body is kept."""
    if signal not in ("", *SIGNALS) and not (signal.isdigit() and int(signal) <= 255):
        raise HTTPException(
            404, "unknown ping path; use /ping/<token>, /start, /fail, /log or /<exit code 0-255>"
        )
    heartbeats = request.app.state.pipeline.heartbeats
    if not heartbeats.knows(token):  # before a byte of the body is read
        raise HTTPException(404, "no heartbeat check has this token")
    body = (await request.body())[:10_000].decode("utf-8", "replace") if request.method == "POST" else ""
    outcome = await heartbeats.ping(token, signal, body, ping_values(request.query_params, body))
    if outcome is None:
        raise HTTPException(404, "no heartbeat check has this token")
    return {"status": outcome}


for _path, _name in (("/ping/{token}", "ping"), ("/ping/{token}/{signal}", "ping_signal")):
    pings.add_api_route(_path, ping, methods=["GET"], operation_id=f"{_name}_get")
    pings.add_api_route(_path, ping, methods=["POST"], operation_id=f"{_name}_post")
    pings.add_api_route(_path, ping, methods=["HEAD"], include_in_schema=False)
