"""HTTP API of alerts: `GET /api/v1/alerts` (filters: state, service, severity, source) and
`GET /api/v1/alerts/{id}` with its history. Reading needs the viewer role. Mount `router`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel
from sqlalchemy.orm import Session

from opsbook.alerts.models import AlertEventRow, AlertRow
from opsbook.alerts.service import events_of, list_alerts
from opsbook.alerts.state import AlertState
from opsbook.auth.roles import Principal, Role
from opsbook.rules.severity import Severity
from opsbook.runtime import Runtime
from opsbook.web.deps import get_runtime, get_session, require_role
from opsbook.web.params import MAX_ID, Id

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])


class AlertOut(BaseModel):
    id: int
    dedup_key: str
    source: str
    state: str
    service: str
    check_id: str | None
    rule: str | None
    severity: str
    value: float | None
    threshold: float | None
    condition: str
    summary: str
    message: str
    runbook: str
    labels: dict[str, str]
    created_at: datetime
    pending_since: datetime | None
    fired_at: datetime | None
    resolved_at: datetime | None
    acknowledged_at: datetime | None
    last_eval_at: datetime | None
    silenced: bool
    silenced_by: str | None


class AlertEventOut(BaseModel):
    ts: datetime
    from_state: str | None
    to_state: str
    value: float | None
    message: str


class AlertDetailOut(AlertOut):
    payload: dict[str, Any] | None
    events: list[AlertEventOut]


def alert_out(row: AlertRow, runtime: Runtime) -> dict[str, Any]:
    return {
        "id": row.id, "dedup_key": row.dedup_key, "source": row.source, "state": row.state,
        "service": row.service, "check_id": row.check_id, "rule": row.rule, "severity": row.severity,
        "value": row.value, "threshold": row.threshold, "condition": row.condition,
        "summary": runtime.redact(row.summary), "message": runtime.redact(row.message),
        "runbook": row.runbook,
        "labels": dict(row.labels or {}), "created_at": row.created_at, "pending_since": row.pending_since,
        "fired_at": row.fired_at, "resolved_at": row.resolved_at, "acknowledged_at": row.acknowledged_at,
        "last_eval_at": row.last_eval_at, "silenced": bool(row.silenced), "silenced_by": row.silenced_by,
    }


def _event_out(row: AlertEventRow, runtime: Runtime) -> AlertEventOut:
    return AlertEventOut(ts=row.ts, from_state=row.from_state, to_state=row.to_state, value=row.value,
                         message=runtime.redact(row.message))


@router.get("", response_model=list[AlertOut])
def get_alerts(
    state: AlertState | None = Query(default=None, description="pending, firing, resolved or inactive."),
    service: str | None = Query(default=None),
    severity: str | None = Query(default=None, description="P0-P4."),
    source: str | None = Query(default=None, description="rule, pagerduty or alertmanager."),
    limit: int = Query(default=100, ge=1, le=1000),
    before_id: int | None = Query(
        default=None, ge=1, le=MAX_ID, description="Page: alerts with a smaller id."
    ),
    session: Session = Depends(get_session),
    runtime: Runtime = Depends(get_runtime),
    _: Principal = Depends(require_role(Role.VIEWER)),
) -> list[dict[str, Any]]:
    """Alerts newest first; without `state`, cleared pendings (inactive) are left out."""
    level = None
    if severity is not None:
        try:
            level = Severity.parse(severity).value
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
    rows = list_alerts(session, state=state.value if state else None, service=service, severity=level,
                       source=source, limit=limit, before_id=before_id)
    return [alert_out(r, runtime) for r in rows]


@router.get("/{alert_id}", response_model=AlertDetailOut)
def get_alert(
    alert_id: Id,
    session: Session = Depends(get_session),
    runtime: Runtime = Depends(get_runtime),
    _: Principal = Depends(require_role(Role.VIEWER)),
) -> dict[str, Any]:
    """One alert with its state history and (external events) the last payload received."""
    row = session.get(AlertRow, alert_id)
    if row is None:
        raise HTTPException(404, f"no alert {alert_id}")
    return {**alert_out(row, runtime), "payload": row.payload,
            "events": [_event_out(e, runtime) for e in events_of(session, alert_id)]}
