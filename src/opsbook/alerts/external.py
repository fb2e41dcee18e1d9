"""Alerts from other tools (PagerDuty, Alertmanager) and from opsbook itself: the typed event, and how it
moves its alert through the state machine.

The translators (`alerts.pagerduty`, `alerts.alertmanager`) turn a tool's payload into `ExternalEvent`s
or refuse it with `InvalidEvent`; `apply_external` applies one event, in the caller's transaction:

    transitions = apply_external(session, event, now)

An external alert is identified by its source and dedup key (`open_key`): a trigger opens a firing alert,
or refreshes an open one's summary, severity and payload without a new transition; acknowledge and
resolve act on the open alert and change nothing if there is none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.alerts.changes import Changes, new_alert, status_of
from opsbook.alerts.models import SOURCE_RULE, AlertRow
from opsbook.alerts.state import ExternalAction, external
from opsbook.alerts.types import AlertTransition
from opsbook.errors import Invalid
from opsbook.rules.severity import Severity

CHUNK = 500
"""Open keys per IN (...) list."""

TEXT_MAX = 2000
DONE = {ExternalAction.TRIGGER: "triggered", ExternalAction.ACKNOWLEDGE: "acknowledged",
        ExternalAction.RESOLVE: "resolved"}
"""The history entry's message of an event that gives no summary."""


@dataclass(frozen=True)
class ExternalEvent:
    """One event about one alert, whatever tool sent it."""

    source: str  # pagerduty | alertmanager | opsbook
    dedup_key: str
    action: ExternalAction
    service: str
    severity: Severity
    summary: str = ""  # a trigger's summary; for acknowledge and resolve, why (may be empty)
    payload: Mapping[str, Any] | None = None  # what the tool sent (secrets removed), kept on the alert
    labels: Mapping[str, str] = field(default_factory=dict)
    runbook: str = ""
    check_id: str | None = None

    @property
    def open_key(self) -> str:
        return open_key(self.source, self.dedup_key)


class InvalidEvent(Invalid):
    """A tool's payload that is not a valid event; `errors` says what is wrong, one line per problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors

    @classmethod
    def of(cls, exc: ValidationError) -> InvalidEvent:
        """The problems pydantic found, as `where: what` lines."""
        return cls([f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()])


class ToolPayload(BaseModel):
    """Base of the translators' models: fields a tool adds later are kept, not refused."""

    model_config = ConfigDict(extra="allow")


def severity_of(word: str, words: Mapping[str, Severity]) -> Severity | None:
    """A tool's severity word (`words`, any case), or P0–P4 as is; None if it is neither."""
    found = words.get(word.strip().lower())
    if found is not None:
        return found
    try:
        return Severity.parse(word)
    except ValueError:
        return None


def open_key(source: str, dedup_key: str) -> str:
    """What an open alert is unique by: a rule's dedup key as is, an external one's prefixed by its source."""
    return dedup_key if source == SOURCE_RULE else f"{source}:{dedup_key}"


def lock_open_alerts(session: Session, keys: Iterable[str]) -> dict[str, AlertRow | None]:
    """The open alerts of these open keys, locked (FOR UPDATE on PostgreSQL), with None for keys that have
    none: pass it as `open_rows` to `apply_external` so a batch of events costs one query, not one each."""
    wanted = sorted(set(keys))
    found: dict[str, AlertRow | None] = dict.fromkeys(wanted)
    for i in range(0, len(wanted), CHUNK):
        query = select(AlertRow).where(AlertRow.open_key.in_(wanted[i : i + CHUNK])).with_for_update()
        for row in session.scalars(query):
            found[row.open_key or ""] = row
    return found


def apply_external(
    session: Session, event: ExternalEvent, now: datetime, open_rows: dict[str, AlertRow | None] | None = None
) -> list[AlertTransition]:
    """Apply one event to the open alert of its key (locked), through the state machine; `open_rows`
    (from `lock_open_alerts`) saves the query and is kept up to date for the next event of the batch."""
    key = event.open_key
    if open_rows is not None and key in open_rows:
        row = open_rows[key]
    else:
        row = session.scalars(select(AlertRow).where(AlertRow.open_key == key).with_for_update()).first()
    if row is None and event.action is not ExternalAction.TRIGGER:
        return []
    changes = Changes(session)
    if row is None:
        row = new_alert(session, dedup_key=event.dedup_key, open_key=key, now=now, source=event.source,
                        rule=None, check_id=event.check_id, service=event.service, condition="")
    message = event.summary[:TEXT_MAX] or DONE[event.action]
    if event.action is ExternalAction.TRIGGER:
        _refresh(row, event)
    else:
        if event.payload is not None:
            row.payload = dict(event.payload)
        if event.action is ExternalAction.RESOLVE and event.summary:
            row.message = message  # why it resolved, for the resolve notification
    row.last_eval_at = now
    before = status_of(row)
    changes.apply(row, before, external(before, event.action, now), now, message=message)
    if open_rows is not None:
        open_rows[key] = row if row.open_key == key else None
    return changes.build(now)


def _refresh(row: AlertRow, event: ExternalEvent) -> None:
    """A trigger's details, on the alert it opens or re-triggers."""
    row.severity = event.severity.value
    row.summary = row.message = event.summary[:TEXT_MAX]
    row.labels = dict(event.labels or row.labels or {})
    row.runbook = event.runbook or row.runbook or ""
    row.payload = dict(event.payload) if event.payload is not None else None
