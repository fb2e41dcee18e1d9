"""The alert types the other domains share: what changed about an alert (`AlertTransition`) and the
hook signature that reacts to changes in the same transaction. Incidents, notify and the pipeline import
these, never the alert engine itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from opsbook.rules.severity import Severity


class TransitionKind(StrEnum):
    FIRED = "fired"
    RESOLVED = "resolved"
    ACKNOWLEDGED = "acknowledged"


@dataclass(frozen=True)
class AlertTransition:
    """An alert fired, resolved or was acknowledged: what the notification layer turns into messages."""

    kind: TransitionKind
    alert_id: int
    dedup_key: str
    source: str  # rule | pagerduty | alertmanager
    service: str
    check_id: str | None
    rule: str | None
    severity: Severity
    summary: str
    runbook: str
    labels: Mapping[str, str]
    value: float | None
    threshold: float | None
    condition: str  # the rule's `when` ("" for external events)
    message: str  # the evaluation's sentence (for a resolve: why it is resolved)
    since: datetime  # when it fired
    at: datetime  # when this transition happened
    resolved_at: datetime | None = None
    silenced: bool = False

    @property
    def check(self) -> str | None:
        """The check's own name (without the service)."""
        return self.check_id.split("/", 1)[1] if self.check_id and "/" in self.check_id else self.check_id

    def notification_key(self) -> str:
        """Idempotency key for this transition's notifications: one per alert row and kind."""
        return f"alert:{self.alert_id}:{self.kind.value}"

    def template_context(self) -> dict[str, Any]:
        """The variables the notification templates know (see opsbook.notify.templates)."""
        return {
            "service": self.service,
            "check": self.check,
            "check_id": self.check_id,
            "severity": self.severity.value,
            "summary": self.summary,
            "rule": self.rule,
            "value": self.value,
            "threshold": self.threshold,
            "condition": self.condition,
            "message": self.message,
            "since": self.since,
            "resolved_at": self.resolved_at,
            "runbook": self.runbook,
            "labels": dict(self.labels),
            "alert_id": self.alert_id,
            "source": self.source,
        }


AlertHook = Callable[[Session, Sequence[AlertTransition], datetime], None]
"""Reacts to alert transitions inside the transaction that made them: hook(session, transitions, now)."""
