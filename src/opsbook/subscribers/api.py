"""HTTP API of status page subscribers (`/api/v1/subscribers`): the list with addresses masked and the
delivery and failure counts (viewer role), and removing one (admin role,
audit-logged; 404 for an unknown id). Visitors subscribe through the public form (routes.py)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from opsbook.auth.roles import Principal, Role
from opsbook.runtime import Runtime
from opsbook.subscribers import service
from opsbook.web.deps import get_runtime, require_role
from opsbook.web.params import Id


class SubscriberOut(BaseModel):
    id: int
    kind: str = Field(description="email or webhook")
    address: str = Field(description="Masked: enough to recognise, not to use.")
    services: list[str] = Field(description="The public services chosen; empty: all of them.")
    status: str = Field(description="pending (not confirmed yet) or active")
    created_at: datetime
    confirmed_at: datetime | None
    sent: int = Field(description="Messages delivered.")
    failed: int = Field(description="Messages given up on (bounced or refused every time).")
    waiting: int = Field(description="Messages not delivered yet.")
    failed_attempts: int = Field(description="Delivery attempts refused or failed.")


router = APIRouter(prefix="/api/v1/subscribers", tags=["subscribers"])
viewer = require_role(Role.VIEWER)
admin = require_role(Role.ADMIN)


@router.get("", response_model=list[SubscriberOut])
def list_subscribers(
    limit: int = Query(default=500, ge=1, le=5000),
    runtime: Runtime = Depends(get_runtime),
    _who: Principal = Depends(viewer),
) -> list[SubscriberOut]:
    return [
        SubscriberOut(id=v.id, kind=v.kind, address=v.masked, services=list(v.services), status=v.status,
                      created_at=v.created_at, confirmed_at=v.confirmed_at, sent=v.delivery.sent,
                      failed=v.delivery.failed, waiting=v.delivery.waiting,
                      failed_attempts=v.delivery.failed_attempts)
        for v in service.views(runtime, limit)
    ]


@router.delete("/{subscriber_id}", status_code=204)
def remove_subscriber(
    subscriber_id: Id, runtime: Runtime = Depends(get_runtime), who: Principal = Depends(admin)
) -> Response:
    service.remove(runtime, who, subscriber_id)
    return Response(status_code=204)
