"""Alertmanager's webhook (version 4, https://prometheus.io/docs/alerting/latest/configuration/#webhook_config):
one notification as `ExternalEvent`s, one per alert.

Each alert is deduplicated by its `fingerprint` (or its labels); `status` firing → trigger, resolved →
resolve. The service is the alert's `service` label, else the one the caller names (`?service=`), else
`alertmanager`; the severity its `severity` label (critical/page → P1, error → P2, warning → P3,
info/none → P4, P0–P4 as is), else `alerting.default_severity`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import Field, ValidationError

from opsbook.alerts.external import TEXT_MAX, ExternalEvent, InvalidEvent, ToolPayload, severity_of
from opsbook.alerts.models import SOURCE_ALERTMANAGER
from opsbook.alerts.state import ExternalAction
from opsbook.rules.severity import Severity

SEVERITY = {
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


class AmAlert(ToolPayload):
    """One alert of a webhook notification (field names as Alertmanager sends them)."""

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: str | None = None
    endsAt: str | None = None
    generatorURL: str | None = None
    fingerprint: str | None = None


class AmWebhook(ToolPayload):
    """Alertmanager's webhook payload."""

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
    """The `severity` (or `priority`) label's level; `default` without one or for an unknown word."""
    value = labels.get("severity") or labels.get("priority")
    return (severity_of(value, SEVERITY) if value else None) or default


def am_dedup_key(alert: AmAlert) -> str:
    if alert.fingerprint:
        return alert.fingerprint
    canonical = json.dumps(sorted(alert.labels.items()), separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def translate(data: Any, default_severity: Severity, service: str | None = None) -> list[ExternalEvent]:
    """The events of a parsed webhook notification, or InvalidEvent with what is wrong."""
    try:
        hook = AmWebhook.model_validate(data)
    except ValidationError as exc:
        raise InvalidEvent.of(exc) from None
    if hook.version != "4":
        raise InvalidEvent([f"version: {hook.version!r} is not supported; expected '4'"])
    return [_event(hook, alert, default_severity, service) for alert in hook.alerts]


def _event(hook: AmWebhook, alert: AmAlert, default_severity: Severity, service: str | None) -> ExternalEvent:
    labels = {**hook.commonLabels, **alert.labels}
    annotations = {**hook.commonAnnotations, **alert.annotations}
    summary = (
        annotations.get("summary")
        or annotations.get("description")
        or annotations.get("message")
        or labels.get("alertname")
        or "alert from Alertmanager"
    )
    return ExternalEvent(
        source=SOURCE_ALERTMANAGER,
        dedup_key=am_dedup_key(alert),
        action=ExternalAction.TRIGGER if alert.status == "firing" else ExternalAction.RESOLVE,
        service=labels.get("service") or service or "alertmanager",
        severity=am_severity(labels, default_severity),
        summary=summary[:TEXT_MAX],
        payload={
            **alert.model_dump(mode="json"),
            "receiver": hook.receiver,
            "externalURL": hook.externalURL,
            "groupKey": hook.groupKey,
        },
        labels=labels,
        runbook=annotations.get("runbook_url") or annotations.get("runbook") or "",
    )
