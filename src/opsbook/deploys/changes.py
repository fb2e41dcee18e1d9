"""PagerDuty Change Events API v2 (https://developer.pagerduty.com/docs/events-api-v2/send-change-events/):
one change event as a `ChangeIn` record.

The `routing_key` is the credential and selects the service, as for trigger events
(`alerting.routing_keys`). `payload.summary` is required; `payload.timestamp` (ISO 8601) is when the
change happened (default: when it arrived). The version, environment, commit, who deployed and a status
are read from `payload.custom_details` when given (`version` or `release`; `environment` or `env`;
`commit` or `sha`; `deployed_by`, `user` or `author`; `status`); the event is kept without its routing key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from opsbook.alerts.external import InvalidEvent, ToolPayload
from opsbook.alerts.pagerduty import routed
from opsbook.deploys.service import ChangeIn
from opsbook.rules.config import AlertingSettings


class ChangePayload(ToolPayload):
    summary: str = Field(min_length=1, max_length=1024)
    timestamp: str | None = None
    source: str | None = Field(default=None, max_length=255)
    custom_details: dict[str, Any] | None = None


class ChangeLink(ToolPayload):
    href: str
    text: str | None = None


class ChangeEvent(ToolPayload):
    routing_key: str = Field(min_length=1, max_length=255)
    payload: ChangePayload
    links: list[ChangeLink] = Field(default_factory=list)


def _time(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidEvent([f"payload.timestamp: {text!r} is not an ISO 8601 time"]) from None
    if value.tzinfo is None:
        raise InvalidEvent([f"payload.timestamp: {text!r} has no time zone offset"])
    return value


def _pick(details: dict[str, Any], *names: str) -> str:
    for name in names:
        value = details.get(name)
        if value not in (None, ""):
            return str(value)[:200]
    return ""


def translate(data: Any, alerting: AlertingSettings) -> tuple[ChangeIn, str]:
    """The change a parsed Change Events body describes and who made it, or InvalidEvent saying why not."""
    event, service = routed(data, ChangeEvent, alerting)
    details = event.payload.custom_details or {}
    status = _pick(details, "status") or "succeeded"
    if status not in ("succeeded", "failed", "rolled_back"):
        raise InvalidEvent(
            [f"payload.custom_details.status: {status!r} is not succeeded, failed or rolled_back"]
        )
    who = _pick(details, "deployed_by", "user", "author") or event.payload.source or "pagerduty"
    change = ChangeIn(
        service=service,
        version=_pick(details, "version", "release"),
        env=_pick(details, "environment", "env"),
        status=status,
        started_at=_time(event.payload.timestamp),
        commit=_pick(details, "commit", "sha") or None,
        summary=event.payload.summary,
        detail={k: v for k, v in data.items() if k != "routing_key"},
    )
    return change, who[:100]
