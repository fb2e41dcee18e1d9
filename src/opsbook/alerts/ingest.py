"""Events from other tools: PagerDuty Events API v2 and the Alertmanager webhook (v4), as opsbook alerts.

- `POST /api/v1/events/pagerduty` (also `/api/v1/events/pagerduty/v2/enqueue`) takes what
  `https://events.pagerduty.com/v2/enqueue` takes. The `routing_key` is the credential: it must be one of
  `alerting.routing_keys` (service → key) and selects the service. `event_action` trigger / acknowledge /
  resolve with `dedup_key` (generated for a trigger without one); `payload.severity` critical → P1,
  error → P2, warning → P3, info → P4 (P0–P4 are accepted too). Answers like PagerDuty: 202
  `{"status": "success", "message": "Event processed", "dedup_key": ...}`, or 400
  `{"status": "invalid event", "message": "Event object is invalid", "errors": [...]}`.
- `POST /api/v1/events/alertmanager` takes Alertmanager's webhook payload (version 4) and needs a
  responder token (Alertmanager: `http_config.authorization.credentials`). Each alert is deduplicated by
  its `fingerprint` (or its labels); `status` firing → trigger, resolved → resolve. The service is the
  alert's `service` label, else `?service=` in the URL, else `alertmanager`; the severity its `severity`
  label (critical/page → P1, error → P2, warning → P3, info/none → P4, P0–P4 as is), else
  `alerting.default_severity`. Malformed payloads get 400 with the reasons.

Both write through `service.upsert_external` in one transaction per request; the transitions are then
handed, in that same transaction, to every callable in `app.state.alert_hooks`
(`hook(session, transitions, now)`), which is where the notification layer enqueues its messages.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from opsbook.alerts.models import SOURCE_ALERTMANAGER, SOURCE_PAGERDUTY
from opsbook.alerts.service import AlertTransition, lock_open_alerts, open_key, upsert_external
from opsbook.auth.roles import Principal, Role
from opsbook.rules.severity import Severity
from opsbook.runtime import Runtime
from opsbook.web.deps import get_runtime, require_role

router = APIRouter(prefix="/api/v1/events", tags=["events"])

AlertHook = Callable[[Session, Sequence[AlertTransition], datetime], None]

PD_SEVERITY = {"critical": Severity.P1, "error": Severity.P2, "warning": Severity.P3, "info": Severity.P4}
AM_SEVERITY = {
    "critical": Severity.P1,
    "page": Severity.P1,
    "high": Severity.P1,
    "error": Severity.P2,
    "warning": Severity.P3,
    "warn": Severity.P3,
    "info": Severity.P4,
    "none": Severity.P4,
    "low": Severity.P4,
}
MAX_BODY = 512 * 1024


# --- PagerDuty Events API v2 ---------------------------------------------------------------------


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class PdPayload(_Open):
    summary: str = Field(min_length=1, max_length=1024)
    source: str = Field(min_length=1, max_length=255)
    severity: str
    timestamp: str | None = None
    component: str | None = None
    group: str | None = None
    class_: str | None = Field(default=None, alias="class")
    custom_details: Any = None


class PdLink(_Open):
    href: str
    text: str | None = None


class PdImage(_Open):
    src: str
    href: str | None = None
    alt: str | None = None


class PdEvent(_Open):
    """An Events API v2 alert event (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/)."""

    routing_key: str = Field(min_length=1, max_length=255)
    event_action: Literal["trigger", "acknowledge", "resolve"]
    dedup_key: str | None = Field(default=None, min_length=1, max_length=255)
    payload: PdPayload | None = None
    client: str | None = None
    client_url: str | None = None
    links: list[PdLink] = Field(default_factory=list)
    images: list[PdImage] = Field(default_factory=list)


def _errors(exc: ValidationError) -> list[str]:
    out = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "body"
        out.append(f"{where}: {error['msg']}")
    return out


async def _json(request: Request) -> tuple[Any, list[str]]:
    return _parse(await request.body())


def _parse(body: bytes) -> tuple[Any, list[str]]:
    if len(body) > MAX_BODY:
        return None, [f"the body is larger than {MAX_BODY // 1024} KiB"]
    try:
        return json.loads(body), []
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, [f"the body is not JSON: {exc}"]


def pd_severity(value: str) -> Severity | None:
    text = value.strip().lower()
    if text in PD_SEVERITY:
        return PD_SEVERITY[text]
    try:
        return Severity.parse(value)
    except ValueError:
        return None


@router.post("/pagerduty", status_code=202)
@router.post("/pagerduty/v2/enqueue", status_code=202, include_in_schema=False)
async def pagerduty_event(request: Request, runtime: Runtime = Depends(get_runtime)) -> JSONResponse:
    """Accept one PagerDuty Events API v2 event."""
    status, answer = await accept_pagerduty(request.app.state, runtime, await request.body())
    return JSONResponse(answer, status_code=status)


def _invalid(errors: list[str]) -> tuple[int, dict[str, Any]]:
    return 400, {"status": "invalid event", "message": "Event object is invalid", "errors": errors}


async def accept_pagerduty(state: Any, runtime: Runtime, body: bytes) -> tuple[int, dict[str, Any]]:
    """Validate one PagerDuty v2 event and apply it (group commit); the HTTP status and JSON answer.

    Shared by the route above and `IngestFastPath`, which serves the same path without the framework."""
    data, problems = _parse(body)
    if problems:
        return _invalid(problems)
    if not isinstance(data, dict):
        return _invalid(["the body must be a JSON object"])
    try:
        event = PdEvent.model_validate(data)
    except ValidationError as exc:
        return _invalid(_errors(exc))
    service = runtime.config.alerting.service_for_key(event.routing_key)
    if service is None:
        return _invalid(["routing_key is not known to this opsbook (see alerting.routing_keys)"])
    severity = runtime.config.alerting.default_severity
    summary = ""
    if event.event_action == "trigger":
        if event.payload is None:
            return _invalid(["payload: required for a trigger event"])
        level = pd_severity(event.payload.severity)
        if level is None:
            return _invalid(
                [f"payload.severity: {event.payload.severity!r} is not one of critical, error, warning, info"]
            )
        severity, summary = level, event.payload.summary
        dedup_key = event.dedup_key or uuid.uuid4().hex
    elif event.dedup_key is None:
        return _invalid([f"dedup_key: required for an {event.event_action} event"])
    else:
        dedup_key = event.dedup_key
    stored = {k: v for k, v in data.items() if k != "routing_key"}  # the key is a secret
    labels = {}
    if event.payload is not None:
        p = event.payload
        pairs = (("source", p.source), ("component", p.component), ("group", p.group), ("class", p.class_))
        labels = {k: str(v) for k, v in pairs if v}
    runbook = next((link.href for link in event.links if "runbook" in (link.text or "").lower()), "")
    await committer_of(state, runtime).submit(
        [
            {
                "source": SOURCE_PAGERDUTY,
                "dedup_key": dedup_key,
                "action": event.event_action,
                "service": service,
                "severity": severity,
                "summary": summary,
                "payload": stored,
                "labels": labels,
                "runbook": runbook,
            }
        ]
    )
    return 202, {"status": "success", "message": "Event processed", "dedup_key": dedup_key}


class IngestFastPath:
    """ASGI middleware answering POST /api/v1/events/pagerduty before routing, sessions and dependency
    injection: this endpoint authenticates by the routing_key in its body, so none of them apply, and
    skipping them doubles the events one process accepts (bench/ingest.py). Everything else passes on."""

    PATHS = ("/api/v1/events/pagerduty", "/api/v1/events/pagerduty/v2/enqueue")

    def __init__(self, app: Any, runtime: Runtime, state: Any) -> None:
        self.app = app
        self.runtime = runtime
        self.state = state

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in self.PATHS:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size <= MAX_BODY:
                chunks.append(chunk)
            if not message.get("more_body"):
                break
        body = b"".join(chunks) if size <= MAX_BODY else b"x" * (MAX_BODY + 1)
        status, answer = await accept_pagerduty(self.state, self.runtime, body)
        payload = json.dumps(answer).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


# --- Alertmanager webhook ------------------------------------------------------------------------


class AmAlert(_Open):
    """One alert of a webhook notification (field names as Alertmanager sends them)."""

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: str | None = None
    endsAt: str | None = None
    generatorURL: str | None = None
    fingerprint: str | None = None


class AmWebhook(_Open):
    """Alertmanager's webhook payload (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config)."""

    version: str
    groupKey: str | None = None
    truncatedAlerts: int = 0
    status: Literal["firing", "resolved"]
    receiver: str | None = None
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str | None = None
    alerts: list[AmAlert]


def am_severity(labels: dict[str, str], default: Severity) -> Severity:
    value = labels.get("severity") or labels.get("priority")
    if not value:
        return default
    if value.strip().lower() in AM_SEVERITY:
        return AM_SEVERITY[value.strip().lower()]
    try:
        return Severity.parse(value)
    except ValueError:
        return default


def am_dedup_key(alert: AmAlert) -> str:
    if alert.fingerprint:
        return alert.fingerprint
    canonical = json.dumps(sorted(alert.labels.items()), separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@router.post("/alertmanager")
async def alertmanager_webhook(
    request: Request,
    service: str | None = Query(default=None, description="Service of alerts without a `service` label."),
    runtime: Runtime = Depends(get_runtime),
    _: Principal = Depends(require_role(Role.RESPONDER)),
) -> JSONResponse:
    """Accept one Alertmanager webhook notification (any number of alerts)."""
    data, problems = await _json(request)
    if problems:
        return JSONResponse({"status": "error", "errors": problems}, status_code=400)
    try:
        hook = AmWebhook.model_validate(data)
    except ValidationError as exc:
        return JSONResponse({"status": "error", "errors": _errors(exc)}, status_code=400)
    if hook.version != "4":
        return JSONResponse(
            {"status": "error", "errors": [f"version: {hook.version!r} is not supported; expected '4'"]},
            status_code=400,
        )
    default = runtime.config.alerting.default_severity
    events = []
    for alert in hook.alerts:
        labels = {**hook.commonLabels, **alert.labels}
        annotations = {**hook.commonAnnotations, **alert.annotations}
        summary = (
            annotations.get("summary")
            or annotations.get("description")
            or annotations.get("message")
            or labels.get("alertname")
            or "alert from Alertmanager"
        )
        events.append(
            dict(
                source=SOURCE_ALERTMANAGER,
                dedup_key=am_dedup_key(alert),
                action="trigger" if alert.status == "firing" else "resolve",
                service=labels.get("service") or service or "alertmanager",
                severity=am_severity(labels, default),
                summary=summary[:2000],
                payload={
                    **alert.model_dump(mode="json"),
                    "receiver": hook.receiver,
                    "externalURL": hook.externalURL,
                    "groupKey": hook.groupKey,
                },
                labels=labels,
                runbook=annotations.get("runbook_url") or annotations.get("runbook") or "",
            )
        )
    transitions = await _upsert_many(request, runtime, events)
    return JSONResponse({"status": "success", "alerts": len(hook.alerts), "transitions": len(transitions)})


# --- writing -------------------------------------------------------------------------------------


async def _upsert_many(
    request: Request, runtime: Runtime, events: list[dict[str, Any]]
) -> list[AlertTransition]:
    return await committer_of(request.app.state, runtime).submit(events)


def committer_of(state: Any, runtime: Runtime) -> GroupCommit:
    """The app's group committer (made on first use, with the app's alert hooks)."""
    committer: GroupCommit | None = getattr(state, "ingest_commit", None)
    if committer is None:
        hooks: Sequence[AlertHook] = getattr(state, "alert_hooks", ())
        committer = state.ingest_commit = GroupCommit(runtime, hooks)
    return committer


class GroupCommit:
    """Applies the events of concurrent requests together, in one transaction (group commit).

    The first request starts a drain; requests arriving while a transaction is open wait for the next
    one, which takes them all. Every request is answered only after its events are committed. If a
    transaction fails, its requests are applied one by one, so one bad event fails only its own request.
    """

    def __init__(self, runtime: Runtime, hooks: Sequence[AlertHook], max_events: int = 1000) -> None:
        self.runtime = runtime
        self.hooks = hooks
        self.max_events = max_events
        self._waiting: list[tuple[list[dict[str, Any]], asyncio.Future[list[AlertTransition]]]] = []
        self._draining = False

    async def submit(self, events: list[dict[str, Any]]) -> list[AlertTransition]:
        future: asyncio.Future[list[AlertTransition]] = asyncio.get_running_loop().create_future()
        self._waiting.append((events, future))
        if not self._draining:
            self._draining = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch: list[tuple[list[dict[str, Any]], asyncio.Future[list[AlertTransition]]]] = []
                size = 0
                while self._waiting and (not batch or size + len(self._waiting[0][0]) <= self.max_events):
                    item = self._waiting.pop(0)
                    batch.append(item)
                    size += len(item[0])
                await self._commit(batch)
        finally:
            self._draining = False

    async def _commit(
        self, batch: list[tuple[list[dict[str, Any]], asyncio.Future[list[AlertTransition]]]]
    ) -> None:
        groups = [events for events, _ in batch]
        try:
            results = await asyncio.to_thread(apply_groups, self.runtime, groups, self.hooks)
        except Exception as exc:
            if len(batch) == 1:
                if not batch[0][1].done():
                    batch[0][1].set_exception(exc)
                return
            for item in batch:  # isolate the request that broke the transaction
                await self._commit([item])
            return
        for (_, future), transitions in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(transitions)


def apply_events(
    runtime: Runtime, events: list[dict[str, Any]], hooks: Sequence[AlertHook] = (), attempts: int = 3
) -> list[AlertTransition]:
    """Apply events in one transaction, run the hooks in it, commit."""
    return apply_groups(runtime, [events], hooks, attempts)[0]


def apply_groups(
    runtime: Runtime, groups: list[list[dict[str, Any]]], hooks: Sequence[AlertHook] = (), attempts: int = 3
) -> list[list[AlertTransition]]:
    """Apply several requests' events in one transaction, run the hooks, commit; the transitions come back
    per request. Retried if a concurrent trigger of the same new dedup key won the race (the retry then
    finds its alert and deduplicates)."""
    for attempt in range(attempts):
        try:
            with runtime.sessions.begin() as session:
                now = runtime.clock.now()
                keys = [open_key(e["source"], e["dedup_key"]) for events in groups for e in events]
                open_rows = lock_open_alerts(session, keys)  # one query for the batch, not one per event
                per_group: list[list[AlertTransition]] = []
                with session.no_autoflush:
                    for events in groups:
                        transitions: list[AlertTransition] = []
                        for event in events:
                            transitions += upsert_external(session, now=now, open_rows=open_rows, **event)
                        per_group.append(transitions)
                every = [t for group in per_group for t in group]
                for hook in hooks:
                    hook(session, every, now)
                return per_group
        except IntegrityError:
            if attempt == attempts - 1:
                raise
    return [[] for _ in groups]
