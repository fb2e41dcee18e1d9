"""Alert logic over the store: evaluate rules on new results, move alerts through their states, and
return what changed so notifications are decided in the same transaction.

Use (the writer's hook, inside the transaction that wrote the results):

    engine = AlertEngine(config)
    transitions = engine.process(session, outcome.check_ids, now)   # after each results batch
    transitions += engine.process_due(session, now)                 # on a timer: see next_due()

`process` reads the rule windows of all the checks of a batch with one query per distinct look-back
(chunks of 500 checks), and the open alerts of those checks with one more, locking them
(`FOR UPDATE` on PostgreSQL) so two workers never move the same alert twice. All state lives in the
`alerts` table: a new engine after a restart continues where the last one stopped, never fires an alert
that is already firing, and announces a resolve that happened while it was down as soon as results
(or `process_due`) show it.

External events (PagerDuty Events v2, Alertmanager) enter through `upsert_external`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opsbook.alerts.models import SOURCE_RULE, AlertEventRow, AlertRow
from opsbook.alerts.state import INACTIVE, AlertState, AlertStatus, step
from opsbook.alerts.types import AlertTransition, TransitionKind
from opsbook.checks.models import ResultRow
from opsbook.rules.evaluate import Evaluation, Sample, evaluate
from opsbook.rules.ruleset import RuleSpec, compile_rules
from opsbook.rules.severity import Severity

if TYPE_CHECKING:
    from opsbook.config.schema import OpsbookConfig

CHUNK = 500
"""Check ids per IN (...) list."""

_OPEN_RULE = (AlertRow.source == SOURCE_RULE, AlertRow.open_key.is_not(None))


def transition_of(row: AlertRow, kind: TransitionKind, at: datetime) -> AlertTransition:
    return AlertTransition(
        kind=kind,
        alert_id=row.id,
        dedup_key=row.dedup_key,
        source=row.source,
        service=row.service,
        check_id=row.check_id,
        rule=row.rule,
        severity=Severity.parse(row.severity),
        summary=row.summary,
        runbook=row.runbook,
        labels=dict(row.labels or {}),
        value=row.value,
        threshold=row.threshold,
        condition=row.condition,
        message=row.message,
        since=row.fired_at or row.created_at,
        at=at,
        resolved_at=row.resolved_at,
        silenced=bool(row.silenced),
    )


def open_key(source: str, dedup_key: str) -> str:
    return dedup_key if source == SOURCE_RULE else f"{source}:{dedup_key}"


def _status(row: AlertRow) -> AlertStatus:
    return AlertStatus(
        AlertState(row.state), row.pending_since, row.fired_at, row.resolved_at, row.clear_since, row.due_at
    )


def _event(
    row: AlertRow, now: datetime, from_state: str | None, to_state: str, value: float | None, message: str
) -> AlertEventRow:
    return AlertEventRow(
        alert=row, ts=now, from_state=from_state, to_state=to_state, value=value, message=message[:2000]
    )


@dataclass
class _Pending:
    """Transitions decided in this call, built once rows have their ids."""

    items: list[tuple[AlertRow, TransitionKind]] = field(default_factory=list)

    def add(self, row: AlertRow, kind: TransitionKind) -> None:
        self.items.append((row, kind))

    def build(self, session: Session, now: datetime) -> list[AlertTransition]:
        if not self.items:
            return []
        session.flush()
        return [transition_of(row, kind, now) for row, kind in self.items]


class AlertEngine:
    """Evaluates the configured rules and keeps the `alerts` table in step. Stateless between calls."""

    def __init__(
        self, config: OpsbookConfig | None = None, rules: Mapping[str, Sequence[RuleSpec]] | None = None
    ) -> None:
        if rules is None:
            if config is None:
                raise ValueError("give a config or the compiled rules")
            rules = compile_rules(config)
        self.rules: dict[str, list[RuleSpec]] = {k: list(v) for k, v in rules.items()}
        self.lookback: dict[str, timedelta] = {
            check_id: max(r.lookback for r in specs) for check_id, specs in self.rules.items() if specs
        }

    # --- reading ---------------------------------------------------------------------------------

    def read_samples(
        self, session: Session, check_ids: Iterable[str], now: datetime
    ) -> dict[str, list[Sample]]:
        """Each check's results over its longest rule window, oldest first: one query per look-back."""
        groups: dict[timedelta, list[str]] = defaultdict(list)
        for check_id in check_ids:
            if check_id in self.lookback:
                groups[self.lookback[check_id]].append(check_id)
        out: dict[str, list[Sample]] = {}
        for back, ids in groups.items():
            for chunk in _chunks(sorted(ids)):
                rows = session.execute(
                    select(
                        ResultRow.check_id,
                        ResultRow.ts,
                        ResultRow.status,
                        ResultRow.latency_ms,
                        ResultRow.values,
                        ResultRow.message,
                    )
                    .where(ResultRow.check_id.in_(chunk), ResultRow.ts > now - back, ResultRow.ts <= now)
                    .order_by(ResultRow.check_id, ResultRow.ts, ResultRow.id)
                )
                for check_id, ts, status, latency, values, message in rows:
                    sample = Sample(ts, status, latency, values or {}, message or "")
                    out.setdefault(check_id, []).append(sample)
        return out

    def _open_rule_alerts(self, session: Session, check_ids: Sequence[str]) -> dict[str, dict[str, AlertRow]]:
        out: dict[str, dict[str, AlertRow]] = defaultdict(dict)
        for chunk in _chunks(sorted(check_ids)):
            rows = session.scalars(
                select(AlertRow)
                .where(AlertRow.check_id.in_(chunk), *_OPEN_RULE)
                .order_by(AlertRow.id)
                .with_for_update()
            )
            for row in rows:
                out[row.check_id or ""][row.rule or ""] = row
        return out

    # --- evaluating ------------------------------------------------------------------------------

    def process(self, session: Session, check_ids: Iterable[str], now: datetime) -> list[AlertTransition]:
        """Evaluate every rule of these checks at `now` (call it after writing their new results)."""
        ids = sorted(set(check_ids))
        if not ids:
            return []
        samples = self.read_samples(session, ids, now)
        open_rows = self._open_rule_alerts(session, ids)
        pending = _Pending()
        for check_id in ids:
            rows = open_rows.get(check_id, {})
            check_samples = samples.get(check_id, [])
            for spec in self.rules.get(check_id, []):
                ev = evaluate(spec.expr, check_samples, now)
                self._apply(session, spec, rows.pop(spec.name, None), ev, now, pending)
            for row in rows.values():  # the rule is gone from the configuration
                _close(session, row, now, "the rule is no longer in the configuration", pending)
        return pending.build(session, now)

    def process_due(self, session: Session, now: datetime) -> list[AlertTransition]:
        """Evaluate the checks whose alerts are due (a pending `for` elapsed, a damped resolve may go)."""
        due = session.scalars(
            select(AlertRow.check_id).where(*_OPEN_RULE, AlertRow.due_at <= now).distinct()
        ).all()
        return self.process(session, [c for c in due if c], now)

    def next_due(self, session: Session) -> datetime | None:
        """When `process_due` has work next (None: nothing pending or damped)."""
        return session.scalar(select(func.min(AlertRow.due_at)).where(*_OPEN_RULE))

    def reconcile(self, session: Session, now: datetime) -> list[AlertTransition]:
        """At startup: resolve open rule alerts whose check or rule was removed from the configuration."""
        pending = _Pending()
        rows = session.scalars(select(AlertRow).where(*_OPEN_RULE).with_for_update())
        for row in rows:
            names = {r.name for r in self.rules.get(row.check_id or "", [])}
            if row.rule not in names:
                _close(session, row, now, "the rule is no longer in the configuration", pending)
        return pending.build(session, now)

    def _apply(
        self,
        session: Session,
        spec: RuleSpec,
        row: AlertRow | None,
        ev: Evaluation,
        now: datetime,
        pending: _Pending,
    ) -> None:
        current = _status(row) if row is not None else INACTIVE
        new = step(current, ev.active, now, spec.expr.hold, spec.min_firing)
        if new == current and current.state is AlertState.INACTIVE:
            return  # nothing to record: inactive stays inactive
        if row is None:
            row = AlertRow(
                dedup_key=spec.dedup_key,
                open_key=spec.dedup_key,
                source=SOURCE_RULE,
                rule=spec.name,
                check_id=spec.check_id,
                service=spec.service,
                created_at=now,
                labels=dict(spec.labels),
                silenced=False,
                state=AlertState.INACTIVE.value,
                severity=spec.severity.value,
                condition=spec.expr.text,
                runbook=spec.runbook,
            )
            session.add(row)
        before = current.state.value
        row.value = ev.value
        row.threshold = ev.threshold
        row.message = ev.message[:2000]
        row.last_eval_at = now
        row.pending_since, row.fired_at, row.resolved_at = new.pending_since, new.fired_at, new.resolved_at
        row.clear_since, row.due_at = new.clear_since, new.due_at
        if new.state is current.state:
            return
        row.state = new.state.value
        if new.state in (AlertState.PENDING, AlertState.FIRING) and current.state is not AlertState.FIRING:
            # a new episode: take the rule's current definition
            row.severity = spec.severity.value
            row.runbook = spec.runbook
            row.labels = dict(spec.labels)
            row.condition = spec.expr.text
            row.summary = spec.render_summary(ev)
        session.add(_event(row, now, before, new.state.value, ev.value, ev.message))
        if new.state is AlertState.FIRING:
            pending.add(row, TransitionKind.FIRED)
        elif new.state is AlertState.RESOLVED:
            row.open_key = None
            pending.add(row, TransitionKind.RESOLVED)


def _close(session: Session, row: AlertRow, now: datetime, message: str, pending: _Pending) -> None:
    """Close an open alert that can no longer be evaluated: resolve it if firing, else retire it."""
    before = row.state
    row.open_key = None
    row.due_at = None
    row.clear_since = None
    row.message = message
    if before == AlertState.FIRING.value:
        row.state = AlertState.RESOLVED.value
        row.resolved_at = now
        pending.add(row, TransitionKind.RESOLVED)
    else:
        row.state = AlertState.INACTIVE.value
    row.last_eval_at = now
    session.add(_event(row, now, before, row.state, row.value, message))


Action = Literal["trigger", "acknowledge", "resolve"]


def upsert_external(
    session: Session,
    *,
    source: str,
    dedup_key: str,
    action: Action,
    service: str,
    severity: Severity,
    summary: str,
    payload: dict[str, Any] | None,
    now: datetime,
    labels: Mapping[str, str] | None = None,
    runbook: str = "",
    check_id: str | None = None,
    open_rows: dict[str, AlertRow | None] | None = None,
) -> list[AlertTransition]:
    """Apply one event from another tool to the alert with this dedup key (per source).

    trigger: opens a firing alert, or (same key already open) refreshes its summary, severity and payload
    without a new transition. acknowledge: records it on the open alert. resolve: resolves the open alert.
    Acknowledge and resolve of an unknown or already resolved key change nothing.
    """
    key = open_key(source, dedup_key)
    if open_rows is not None and key in open_rows:
        row = open_rows[key]
    else:
        row = session.scalars(select(AlertRow).where(AlertRow.open_key == key).with_for_update()).first()
    pending = _Pending()
    if action == "trigger":
        if row is None:
            row = AlertRow(
                dedup_key=dedup_key,
                open_key=key,
                source=source,
                rule=None,
                check_id=check_id,
                service=service,
                severity=severity.value,
                state=AlertState.FIRING.value,
                summary=summary[:2000],
                message=summary[:2000],
                runbook=runbook,
                labels=dict(labels or {}),
                created_at=now,
                pending_since=now,
                fired_at=now,
                last_eval_at=now,
                silenced=False,
                payload=payload,
                condition="",
            )
            session.add(row)
            session.add(_event(row, now, None, AlertState.FIRING.value, None, summary))
            pending.add(row, TransitionKind.FIRED)
        else:
            row.severity = severity.value
            row.summary = summary[:2000]
            row.message = summary[:2000]
            row.labels = dict(labels or row.labels or {})
            row.runbook = runbook or row.runbook
            row.payload = payload
            row.last_eval_at = now
    elif action == "acknowledge":
        if row is not None and row.acknowledged_at is None:
            row.acknowledged_at = now
            row.last_eval_at = now
            session.add(_event(row, now, row.state, "acknowledged", None, summary or "acknowledged"))
            pending.add(row, TransitionKind.ACKNOWLEDGED)
    elif action == "resolve":
        if row is not None:
            before = row.state
            row.state = AlertState.RESOLVED.value
            row.resolved_at = now
            row.open_key = None
            row.last_eval_at = now
            if payload is not None:
                row.payload = payload
            session.add(_event(row, now, before, AlertState.RESOLVED.value, None, summary or "resolved"))
            pending.add(row, TransitionKind.RESOLVED)
    else:
        raise ValueError(f"unknown action {action!r}; use trigger, acknowledge or resolve")
    if open_rows is not None:
        open_rows[key] = row if row is not None and row.open_key == key else None
    return pending.build(session, now)


def lock_open_alerts(session: Session, keys: Iterable[str]) -> dict[str, AlertRow | None]:
    """The open alerts of these open keys, locked (FOR UPDATE on PostgreSQL), with None for keys that have
    none: pass it as `open_rows` to `upsert_external` so a batch of events costs one query, not one each."""
    wanted = sorted(set(keys))
    found: dict[str, AlertRow | None] = dict.fromkeys(wanted)
    for i in range(0, len(wanted), CHUNK):
        query = select(AlertRow).where(AlertRow.open_key.in_(wanted[i : i + CHUNK])).with_for_update()
        for row in session.scalars(query):
            found[row.open_key or ""] = row
    return found


# --- queries for the API and CLI -------------------------------------------------------------------


def list_alerts(
    session: Session,
    *,
    state: str | None = None,
    service: str | None = None,
    severity: str | None = None,
    source: str | None = None,
    include_inactive: bool = False,
    limit: int = 100,
    before_id: int | None = None,
) -> list[AlertRow]:
    """Alerts newest first. `state` filters exactly; without it, inactive rows (pendings that cleared)
    are left out unless `include_inactive`."""
    query = select(AlertRow)
    if state:
        query = query.where(AlertRow.state == state)
    elif not include_inactive:
        query = query.where(AlertRow.state != AlertState.INACTIVE.value)
    if service:
        query = query.where(AlertRow.service == service)
    if severity:
        query = query.where(AlertRow.severity == severity)
    if source:
        query = query.where(AlertRow.source == source)
    if before_id is not None:
        query = query.where(AlertRow.id < before_id)
    return list(session.scalars(query.order_by(AlertRow.id.desc()).limit(limit)))


def events_of(session: Session, alert_id: int) -> list[AlertEventRow]:
    return list(
        session.scalars(
            select(AlertEventRow).where(AlertEventRow.alert_id == alert_id).order_by(AlertEventRow.id)
        )
    )


def _chunks(items: Sequence[str], size: int = CHUNK) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
