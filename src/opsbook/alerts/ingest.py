"""HTTP endpoints for events from other tools: PagerDuty Events API v2 and the Alertmanager webhook (v4).

- `POST /api/v1/events/pagerduty` (also `/api/v1/events/pagerduty/v2/enqueue`) takes what
  `https://events.pagerduty.com/v2/enqueue` takes (see `alerts.pagerduty`; the routing_key authenticates)
  and answers like PagerDuty: 202 `{"status": "success", "message": "Event processed", "dedup_key": ...}`,
  or 400 `{"status": "invalid event", "message": "Event object is invalid", "errors": [...]}`. It is
  served by `IngestFastPath`, an ASGI middleware ahead of routing, sessions and dependency injection
  (none of which this endpoint needs; skipping them doubles the events one process accepts,
  bench/ingest.py); the route is the same answer for an app without the middleware and for the API docs.
- `POST /api/v1/events/alertmanager` takes Alertmanager's webhook payload (see `alerts.alertmanager`) and
  needs a responder token (Alertmanager: `http_config.authorization.credentials`); `?service=` names the
  service of alerts without a `service` label. 200 `{"status": "success", "alerts": n, "transitions": n}`,
  or 400 `{"status": "error", "errors": [...]}`.

Events are applied by the app's `GroupCommit` (`alerts.groupcommit`), whose hooks are
`app.state.alert_hooks` (`hook(session, transitions, now)`, the pipeline's `run_hooks`). Bodies are
capped by `web.limits.BodyLimit`, ahead of both.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from opsbook.alerts import alertmanager, pagerduty
from opsbook.alerts.external import InvalidEvent
from opsbook.alerts.groupcommit import GroupCommit
from opsbook.auth.roles import Principal, Role
from opsbook.errors import Invalid
from opsbook.runtime import Runtime
from opsbook.web.deps import get_runtime, require_role
from opsbook.web.limits import loads_limited

router = APIRouter(prefix="/api/v1/events", tags=["events"])

JSON = "application/json"


def committer_of(state: Any, runtime: Runtime) -> GroupCommit:
    """The app's group committer (made on first use, with the app's alert hooks)."""
    committer: GroupCommit | None = getattr(state, "ingest_commit", None)
    if committer is None:
        committer = state.ingest_commit = GroupCommit(runtime, getattr(state, "alert_hooks", ()))
    return committer


def _parse(body: bytes) -> Any:
    try:
        return loads_limited(body)
    except Invalid as exc:
        raise InvalidEvent([f"the body is not JSON: {exc}"]) from None


def _encode(answer: dict[str, Any]) -> bytes:
    return json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode()


# --- PagerDuty Events API v2 ---------------------------------------------------------------------


async def pagerduty_answer(state: Any, runtime: Runtime, body: bytes) -> tuple[int, bytes]:
    """The one answer to a PagerDuty event, for the route and the fast path: status and JSON body."""
    try:
        event = pagerduty.translate(_parse(body), runtime.config.alerting)
    except InvalidEvent as exc:
        invalid = {"status": "invalid event", "message": "Event object is invalid", "errors": exc.errors}
        return 400, _encode(invalid)
    await committer_of(state, runtime).submit([event])
    return 202, _encode({"status": "success", "message": "Event processed", "dedup_key": event.dedup_key})


@router.post("/pagerduty", status_code=202)
@router.post("/pagerduty/v2/enqueue", status_code=202, include_in_schema=False)
async def pagerduty_event(request: Request, runtime: Runtime = Depends(get_runtime)) -> Response:
    """Accept one PagerDuty Events API v2 event."""
    status, body = await pagerduty_answer(request.app.state, runtime, await request.body())
    return Response(body, status_code=status, media_type=JSON)


class IngestFastPath:
    """ASGI middleware answering POST /api/v1/events/pagerduty before routing; everything else passes on."""

    PATHS = ("/api/v1/events/pagerduty", "/api/v1/events/pagerduty/v2/enqueue")

    def __init__(self, app: ASGIApp, runtime: Runtime, state: Any) -> None:
        self.app = app
        self.runtime = runtime
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in self.PATHS:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client is gone (or BodyLimit refused the body and answered)
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        status, body = await pagerduty_answer(self.state, self.runtime, b"".join(chunks))
        headers = [(b"content-type", JSON.encode()), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


# --- Alertmanager webhook ------------------------------------------------------------------------


@router.post("/alertmanager")
async def alertmanager_webhook(
    request: Request,
    service: str | None = Query(default=None, description="Service of alerts without a `service` label."),
    runtime: Runtime = Depends(get_runtime),
    _: Principal = Depends(require_role(Role.RESPONDER)),
) -> Response:
    """Accept one Alertmanager webhook notification (any number of alerts)."""
    default = runtime.config.alerting.default_severity
    try:
        events = alertmanager.translate(_parse(await request.body()), default, service)
    except InvalidEvent as exc:
        return Response(_encode({"status": "error", "errors": exc.errors}), status_code=400, media_type=JSON)
    transitions = await committer_of(request.app.state, runtime).submit(events)
    answer = {"status": "success", "alerts": len(events), "transitions": len(transitions)}
    return Response(_encode(answer), media_type=JSON)
