"""HTTP API of notifications (`/api/v1/notifications`): the outbox with its attempts, channels, retry.

Reading needs the viewer role; `POST /{id}/retry` is the `retry_notification` use case (responder,
audit-logged; the delivery worker is woken by its event). Channel URLs are never returned: channels are
shown by name, service and a masked URL. Subjects, bodies and errors are shown through `shown_by`:
secrets and acknowledgement links (they are the paged person's only) are masked.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel
from sqlalchemy.orm import Session

from opsbook.auth.roles import Principal, Role
from opsbook.notify import outbox
from opsbook.notify.apprise_send import describe_url
from opsbook.notify.models import STATUSES, AttemptRow, OutboxRow
from opsbook.notify.service import retry_notification
from opsbook.notify.shown import shown_by
from opsbook.runtime import Runtime
from opsbook.web.deps import get_runtime, get_session, require_role
from opsbook.web.params import MAX_ID, Id

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])
viewer = require_role(Role.VIEWER)
responder = require_role(Role.RESPONDER)


class AttemptOut(BaseModel):
    ts: datetime
    duration_ms: float
    ok: bool
    error: str
    worker: str


class NotificationOut(BaseModel):
    id: int
    channel: str
    kind: str
    severity: str | None
    status: str
    subject: str
    body: str
    service: str | None
    check_id: str | None
    alert_id: int | None
    incident_id: int | None
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    attempts: int
    last_error: str
    attempt_log: list[AttemptOut]


class ChannelOut(BaseModel):
    name: str
    target: str
    rate_limit: str | None
    description: str


def attempt_out(row: AttemptRow, mask: Callable[[str], str]) -> AttemptOut:
    return AttemptOut(
        ts=row.ts, duration_ms=row.duration_ms, ok=row.ok, error=mask(row.error), worker=row.worker
    )


def notification_out(row: OutboxRow, mask: Callable[[str], str]) -> NotificationOut:
    return NotificationOut(
        id=row.id,
        channel=row.channel,
        kind=row.kind,
        severity=row.severity,
        status=row.status,
        subject=mask(row.subject),
        body=mask(row.body),
        service=row.service,
        check_id=row.check_id,
        alert_id=row.alert_id,
        incident_id=row.incident_id,
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at,
        sent_at=row.sent_at,
        attempts=row.attempts,
        last_error=mask(row.last_error),
        attempt_log=[attempt_out(a, mask) for a in row.attempt_rows],
    )


@router.get("", response_model=list[NotificationOut])
def list_notifications(
    status: str | None = Query(default=None, description=f"One of {', '.join(STATUSES)}; all if absent."),
    channel: str | None = Query(default=None),
    kind: str | None = Query(default=None, description="firing, resolved, incident, test..."),
    limit: int = Query(default=50, ge=1, le=1000),
    before_id: int | None = Query(
        default=None, ge=1, le=MAX_ID, description="For paging: only ids below this."
    ),
    runtime: Runtime = Depends(get_runtime),
    session: Session = Depends(get_session),
    _who: Principal = Depends(viewer),
) -> list[NotificationOut]:
    """Outbox rows, newest first, each with every delivery attempt."""
    if status is not None and status not in STATUSES:
        raise HTTPException(400, f"status must be one of {', '.join(STATUSES)}")
    mask = shown_by(runtime)
    rows = outbox.list_rows(
        session, status=status, channel=channel, kind=kind, limit=limit, before_id=before_id
    )
    return [notification_out(row, mask) for row in rows]


@router.get("/channels", response_model=list[ChannelOut])
def list_channels(
    runtime: Runtime = Depends(get_runtime), _who: Principal = Depends(viewer)
) -> list[ChannelOut]:
    """Configured channels: name, service and a masked target (never the URL itself)."""
    mask = shown_by(runtime)
    return [
        ChannelOut(
            name=c.name,
            target=mask(describe_url(c.url, c.secrets())),
            rate_limit=str(c.rate_limit) if c.rate_limit else None,
            description=c.description,
        )
        for c in runtime.config.channels
    ]


@router.get("/{notification_id}", response_model=NotificationOut)
def get_notification(
    notification_id: Id,
    runtime: Runtime = Depends(get_runtime),
    session: Session = Depends(get_session),
    _who: Principal = Depends(viewer),
) -> NotificationOut:
    row = session.get(OutboxRow, notification_id)
    if row is None:
        raise HTTPException(404, f"no notification {notification_id}")
    return notification_out(row, shown_by(runtime))


@router.post("/{notification_id}/retry", response_model=NotificationOut)
def retry(
    notification_id: Id,
    runtime: Runtime = Depends(get_runtime),
    session: Session = Depends(get_session),
    who: Principal = Depends(responder),
) -> NotificationOut:
    """Send a failed (or cancelled, or waiting) notification again now, with a fresh retry budget."""
    retry_notification(runtime, who, notification_id)
    row = session.get(OutboxRow, notification_id)
    assert row is not None  # it was just retried
    return notification_out(row, shown_by(runtime))
