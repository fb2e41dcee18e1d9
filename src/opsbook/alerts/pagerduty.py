"""PagerDuty Events API v2 (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/): one event
as an `ExternalEvent`.

The `routing_key` is the credential: it must be one of `alerting.routing_keys` (service → key) and
selects the service. `event_action` trigger / acknowledge / resolve with `dedup_key` (generated for a
trigger without one); `payload.severity` critical → P1, error → P2, warning → P3, info → P4 (P0–P4 are
accepted too). The payload is kept on the alert without its routing key (a secret).
"""

from __future__ import annotations

import uuid
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field, ValidationError

from opsbook.alerts.external import ExternalEvent, InvalidEvent, ToolPayload, severity_of
from opsbook.alerts.models import SOURCE_PAGERDUTY
from opsbook.alerts.state import ExternalAction
from opsbook.rules.config import AlertingSettings
from opsbook.rules.severity import Severity

SEVERITY = {"critical": Severity.P1, "error": Severity.P2, "warning": Severity.P3, "info": Severity.P4}


class PdPayload(ToolPayload):
    summary: str = Field(min_length=1, max_length=1024)
    source: str = Field(min_length=1, max_length=255)
    severity: str
    timestamp: str | None = None
    component: str | None = None
    group: str | None = None
    class_: str | None = Field(default=None, alias="class")
    custom_details: Any = None


class PdLink(ToolPayload):
    href: str
    text: str | None = None


class PdImage(ToolPayload):
    src: str
    href: str | None = None
    alt: str | None = None


class PdEvent(ToolPayload):
    """An Events API v2 alert event."""

    routing_key: str = Field(min_length=1, max_length=255)
    event_action: Literal["trigger", "acknowledge", "resolve"]
    dedup_key: str | None = Field(default=None, min_length=1, max_length=255)
    payload: PdPayload | None = None
    client: str | None = None
    client_url: str | None = None
    links: list[PdLink] = Field(default_factory=list)
    images: list[PdImage] = Field(default_factory=list)


M = TypeVar("M", bound=BaseModel)


def routed(data: Any, model: type[M], alerting: AlertingSettings) -> tuple[M, str]:
    """A parsed PagerDuty body (alert or change event) as `model`, and the service its `routing_key`
    selects; InvalidEvent with what is wrong."""
    if not isinstance(data, dict):
        raise InvalidEvent(["the body must be a JSON object"])
    try:
        event = model.model_validate(data)
    except ValidationError as exc:
        raise InvalidEvent.of(exc) from None
    service = alerting.service_for_key(getattr(event, "routing_key", ""))
    if service is None:
        raise InvalidEvent(["routing_key is not known to this opsbook (see alerting.routing_keys)"])
    return event, service


def translate(data: Any, alerting: AlertingSettings) -> ExternalEvent:
    """The event a parsed PagerDuty v2 body describes, or InvalidEvent with what is wrong."""
    event, service = routed(data, PdEvent, alerting)
    action = ExternalAction(event.event_action)
    severity, summary = alerting.default_severity, ""
    if action is ExternalAction.TRIGGER:
        if event.payload is None:
            raise InvalidEvent(["payload: required for a trigger event"])
        level = severity_of(event.payload.severity, SEVERITY)
        if level is None:
            raise InvalidEvent(
                [f"payload.severity: {event.payload.severity!r} is not one of critical, error, warning, info"]
            )
        severity, summary = level, event.payload.summary
    elif event.dedup_key is None:
        raise InvalidEvent([f"dedup_key: required for an {event.event_action} event"])
    labels: dict[str, str] = {}
    if event.payload is not None:
        p = event.payload
        pairs = (("source", p.source), ("component", p.component), ("group", p.group), ("class", p.class_))
        labels = {k: str(v) for k, v in pairs if v}
    return ExternalEvent(
        source=SOURCE_PAGERDUTY,
        dedup_key=event.dedup_key or uuid.uuid4().hex,
        action=action,
        service=service,
        severity=severity,
        summary=summary,
        payload={k: v for k, v in data.items() if k != "routing_key"},
        labels=labels,
        runbook=next((link.href for link in event.links if "runbook" in (link.text or "").lower()), ""),
    )
