"""Alerts on opsbook itself (delivery gave up, evaluating results fails, a supervised loop is down): external
alerts of source and service "opsbook", through the same state machine as any other alert.

    transitions = raise_self_alert(session, "loop-down:escalation", "escalation fails", Severity.P1, now)
    pipeline.run_hooks(session, transitions, now)   # notify and open incidents like any alert
    ...
    transitions = clear_self_alert(session, "loop-down:escalation", now, "escalation works again")

Raising an alert that is already firing refreshes its summary without a second page; clearing one that is
not firing changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from opsbook.alerts.external import ExternalEvent, apply_external
from opsbook.alerts.state import ExternalAction
from opsbook.alerts.types import AlertTransition
from opsbook.rules.severity import Severity

SELF = "opsbook"
"""The source and the service of opsbook's own alerts."""


def raise_self_alert(
    session: Session,
    key: str,
    summary: str,
    severity: Severity,
    now: datetime,
    payload: Mapping[str, Any] | None = None,
) -> list[AlertTransition]:
    """Fire opsbook's own alert `key` (or refresh it while it fires)."""
    event = ExternalEvent(SELF, key, ExternalAction.TRIGGER, SELF, severity, summary, dict(payload or {}))
    return apply_external(session, event, now)


def clear_self_alert(session: Session, key: str, now: datetime, message: str) -> list[AlertTransition]:
    """Resolve opsbook's own alert `key`, saying why (`message`)."""
    event = ExternalEvent(SELF, key, ExternalAction.RESOLVE, SELF, Severity.P4, message)
    return apply_external(session, event, now)
