"""HTTP API of deploys.

- `GET /api/v1/deploys?service=&env=&status=&limit=` (viewer): deploys, rollbacks and changes recorded
  either way, newest first; `GET /api/v1/deploys/{id}` with its output.
- `POST /api/v1/deploys` (responder): record a deploy or change another system made (201).
- `GET /api/v1/deploys/report?since=30d` (viewer): the DORA figures per service.
- `POST /api/v1/events/pagerduty/v2/change/enqueue`: PagerDuty's Change Events API v2 (the routing key
  authenticates and selects the service), answered as PagerDuty does: 202
  `{"status": "success", "message": "Change event processed"}`, or 400
  `{"status": "invalid event", "message": "Event object is invalid", "errors": [...]}`.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from opsbook.alerts.external import InvalidEvent
from opsbook.auth.roles import Principal, Role
from opsbook.deploys import changes, queries, service
from opsbook.deploys.report import dora_report
from opsbook.errors import Invalid
from opsbook.runtime import Runtime
from opsbook.timefmt import SPAN_FORMS, WHEN_FORMS
from opsbook.web.deps import get_runtime, get_session, require_role
from opsbook.web.limits import loads_limited
from opsbook.web.params import Id, Limit, query_since

router = APIRouter(tags=["deploys"])
viewer = require_role(Role.VIEWER)
responder = require_role(Role.RESPONDER)
JSON = "application/json"


class DeployIn(BaseModel):
    service: str
    version: str = Field(default="", max_length=200)
    environment: str = Field(
        default="", max_length=64, description="Default: the service's last (production)."
    )
    status: str = Field(default="succeeded", description="succeeded, failed or rolled_back.")
    started_at: AwareDatetime | None = Field(default=None, description="Default: now.")
    ended_at: AwareDatetime | None = None
    commit: str | None = Field(default=None, max_length=100)
    committed_at: AwareDatetime | None = Field(default=None, description="For the lead time.")
    summary: str = Field(default="", max_length=4000)
    previous_version: str | None = Field(default=None, max_length=200)


class DoraOut(BaseModel):
    service: str
    deployments: int
    per_day: float
    lead_time_s: float | None
    change_failure_rate: float | None
    failures: int
    time_to_restore_s: float | None


@router.get("/api/v1/deploys")
def list_deploys(
    service_name: str | None = Query(default=None, alias="service"),
    env: str | None = Query(default=None),
    status: str | None = Query(default=None),
    limit: Limit = 100,
    session: Session = Depends(get_session),
    _: Principal = Depends(viewer),
) -> list[dict[str, Any]]:
    """Deploys, rollbacks and changes recorded either way, newest first."""
    rows = queries.list_deploys(session, service=service_name, env=env, status=status, limit=limit)
    return [queries.deploy_dict(r) for r in rows]


@router.get("/api/v1/deploys/report", response_model=list[DoraOut])
def deploys_report(
    since: str = Query(default="30d", max_length=64, examples=["30d", "2026-03-01"], description=(
        f"How far back: a length of time ({SPAN_FORMS}) or a time ({WHEN_FORMS}).")),
    runtime: Runtime = Depends(get_runtime),
    session: Session = Depends(get_session),
    _: Principal = Depends(viewer),
) -> list[DoraOut]:
    """The four DORA figures per service (`service` "all" for every service together)."""
    start = query_since("since", since, runtime)
    now = runtime.clock.now()
    return [
        DoraOut(
            service=r.service or "all",
            deployments=r.deployments,
            per_day=r.per_day,
            lead_time_s=r.lead_time.total_seconds() if r.lead_time else None,
            change_failure_rate=r.change_failure_rate,
            failures=r.failures,
            time_to_restore_s=r.time_to_restore.total_seconds() if r.time_to_restore else None,
        )
        for r in dora_report(session, runtime.config, start, now)
    ]


@router.get("/api/v1/deploys/{deploy_id}")
def get_deploy(
    deploy_id: Id, session: Session = Depends(get_session), _: Principal = Depends(viewer)
) -> dict[str, Any]:
    """One deploy with its checklist answers, verdict and output."""
    row = queries.get_deploy(session, deploy_id)
    return {**queries.deploy_dict(row), "output": row.output}


@router.post("/api/v1/deploys", status_code=201)
def record_deploy(
    body: DeployIn, runtime: Runtime = Depends(get_runtime), who: Principal = Depends(responder)
) -> dict[str, Any]:
    """Record a deploy or change another system made."""
    change = service.ChangeIn(
        service=body.service,
        version=body.version,
        env=body.environment,
        status=body.status,
        started_at=body.started_at,
        ended_at=body.ended_at,
        commit=body.commit,
        committed_at=body.committed_at,
        summary=body.summary,
        previous_version=body.previous_version,
    )
    return queries.deploy_dict(service.record_change(runtime, who, change, source="api"))


def _answer(status: int, body: dict[str, Any]) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status_code=status, media_type=JSON)


@router.post("/api/v1/events/pagerduty/v2/change/enqueue", status_code=202)
async def pagerduty_change(request: Request, runtime: Runtime = Depends(get_runtime)) -> Response:
    """Accept one PagerDuty Change Events API v2 event: a deploy record and a marker on charts and
    incident timelines."""
    try:
        try:
            data = loads_limited(await request.body())
        except Invalid as exc:
            raise InvalidEvent([f"the body is not JSON: {exc}"]) from None
        change, who = changes.translate(data, runtime.config.alerting)
    except InvalidEvent as exc:
        return _answer(
            400, {"status": "invalid event", "message": "Event object is invalid", "errors": exc.errors}
        )
    actor = Principal(who, Role.RESPONDER, "pagerduty")
    await run_in_threadpool(service.record_change, runtime, actor, change, source="pagerduty")
    return _answer(202, {"status": "success", "message": "Change event processed"})
