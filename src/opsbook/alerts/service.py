"""Alert logic over the store: evaluate rules on new results, move alerts through their states, and
return what changed so notifications are decided in the same transaction.

Use (the writer's hook, inside the transaction that wrote the results):

    engine = AlertEngine(config)
    transitions = engine.process(session, outcome.check_ids, now)   # after each results batch
    transitions += engine.process_due(session, now)                 # on a timer: see next_due()

`process` takes each check's rule window from memory (`alerts.windows`: read from the store once, at
the first evaluation after a start, then kept up to date by the results written), and reads the open
alerts of those checks with one query, locking them (`FOR UPDATE` on PostgreSQL) so two workers never
move the same alert twice; before that, on PostgreSQL, it takes a transaction-scoped advisory lock per
check, so two processes evaluating one check take turns and never both open its new alert. All alert
state lives in the `alerts` table: a new engine after a restart continues where the last one stopped,
never fires an alert that is already firing, and announces a resolve that happened while it was down as
soon as results (or `process_due`) show it.

Every state change goes through the state machine (`alerts.state`) and is written by `alerts.changes`,
which also emits the ALERTS domain events. External events (PagerDuty, Alertmanager, opsbook's own) are
`alerts.external`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from opsbook.alerts.changes import Changes, new_alert, status_of
from opsbook.alerts.models import SOURCE_RULE, AlertEventRow, AlertRow
from opsbook.alerts.state import INACTIVE, AlertState, retire, step
from opsbook.alerts.types import AlertTransition
from opsbook.alerts.windows import WindowCache
from opsbook.checks import store
from opsbook.locations.units import located
from opsbook.locations.windows import SharedWindows
from opsbook.rules.evaluate import Evaluation, Sample, evaluate
from opsbook.rules.forecast import HistoryReader
from opsbook.rules.ruleset import RuleSpec, compile_rules

if TYPE_CHECKING:
    from opsbook.config.schema import OpsbookConfig

CHUNK = 500
"""Check ids per IN (...) list."""

_OPEN_RULE = (AlertRow.source == SOURCE_RULE, AlertRow.open_key.is_not(None))


class AlertEngine:
    """Evaluates the configured rules and keeps the `alerts` table in step. Between calls it keeps only
    the checks' recent results (`windows`), never alert state."""

    def __init__(
        self,
        config: OpsbookConfig | None = None,
        rules: Mapping[str, Sequence[RuleSpec]] | None = None,
        history: HistoryReader | None = None,
    ) -> None:
        self.history = history  # the hour rollups `days_until(...)` rules forecast from
        if rules is None:
            if config is None:
                raise ValueError("give a config or the compiled rules")
            rules = compile_rules(config)
        self.rules: dict[str, list[RuleSpec]] = {k: list(v) for k, v in rules.items()}
        self.lookback: dict[str, timedelta] = {
            check_id: max(r.lookback for r in specs) for check_id, specs in self.rules.items() if specs
        }
        measured = {  # checks with a rule on a measured value: their windows keep the values
            check_id for check_id, specs in self.rules.items()
            if any(s.expr.operand.kind == "aggregate" and s.expr.operand.field != "latency_ms" for s in specs)
        }
        self.windows = WindowCache(self.lookback, self.read_samples, measured)
        # checks probed from several locations: on PostgreSQL workers of each write their verdicts, so a
        # window kept from this process's writes would miss the others'; their windows take in what the
        # store holds since the newest verdict seen (opsbook.locations.windows). On SQLite they run once,
        # in one process: kept in memory like any check.
        self.read_always = frozenset(located(config.checks())) if config is not None else frozenset()
        self.shared_windows = SharedWindows(self.lookback, self.read_samples)

    # --- reading ---------------------------------------------------------------------------------

    def read_samples(
        self, session: Session, check_ids: Iterable[str], now: datetime
    ) -> dict[str, list[Sample]]:
        """Each check's results over its longest rule window, oldest first, from the store: one query per
        look-back. The windows are built from it; evaluations read the windows."""
        groups: dict[timedelta, list[str]] = defaultdict(list)
        for check_id in check_ids:
            if check_id in self.lookback:
                groups[self.lookback[check_id]].append(check_id)
        out: dict[str, list[Sample]] = {}
        for back, ids in groups.items():
            for chunk in _chunks(sorted(ids)):
                for check_id, rows in store.recent(session, chunk, now - back, now).items():
                    out[check_id] = [row.sample() for row in rows]
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
        _serialize(session, ids)
        shared = self.read_always if session.get_bind().dialect.name == "postgresql" else frozenset()
        samples = self.windows.samples(session, [c for c in ids if c not in shared], now)
        if shared:
            samples.update(self.shared_windows.samples(session, [c for c in ids if c in shared], now))
        open_rows = self._open_rule_alerts(session, ids)
        changes = Changes(session)
        for check_id in ids:
            rows = open_rows.get(check_id, {})
            check_samples = samples.get(check_id, [])
            for spec in self.rules.get(check_id, []):
                history = (
                    self.history(session, check_id, spec.expr.operand, now)
                    if self.history is not None and spec.expr.operand.kind == "forecast" else None
                )
                ev = evaluate(spec.expr, check_samples, now, history)
                self._apply(changes, spec, rows.pop(spec.name, None), ev, now)
            for row in rows.values():  # the rule is gone from the configuration
                _retire(changes, row, now)
        return changes.build(now)

    def process_due(self, session: Session, now: datetime) -> list[AlertTransition]:
        """Evaluate the checks whose alerts are due (a pending `for` elapsed, a damped resolve may go)."""
        due = [c for c in session.scalars(
            select(AlertRow.check_id).where(*_OPEN_RULE, AlertRow.due_at <= now).distinct()
        ) if c]
        if session.get_bind().dialect.name == "postgresql":
            # the process holding this duty may not run these checks (workers share them): their
            # windows here may lack results another worker wrote, so they are read from the store
            self.windows.forget(due)
        return self.process(session, due, now)

    def next_due(self, session: Session) -> datetime | None:
        """When `process_due` has work next (None: nothing pending or damped)."""
        return session.scalar(select(func.min(AlertRow.due_at)).where(*_OPEN_RULE))

    def reconcile(self, session: Session, now: datetime) -> list[AlertTransition]:
        """At startup: resolve open rule alerts whose check or rule was removed from the configuration."""
        changes = Changes(session)
        rows = session.scalars(select(AlertRow).where(*_OPEN_RULE).with_for_update())
        for row in rows:
            names = {r.name for r in self.rules.get(row.check_id or "", [])}
            if row.rule not in names:
                _retire(changes, row, now)
        return changes.build(now)

    def _apply(
        self, changes: Changes, spec: RuleSpec, row: AlertRow | None, ev: Evaluation, now: datetime
    ) -> None:
        current = status_of(row) if row is not None else INACTIVE
        new = step(current, ev.active, now, spec.expr.hold, spec.min_firing)
        if new == current and current.state is AlertState.INACTIVE:
            return  # nothing to record: inactive stays inactive
        if row is None:
            row = new_alert(changes.session, dedup_key=spec.dedup_key, open_key=spec.dedup_key, now=now,
                            source=SOURCE_RULE, rule=spec.name, check_id=spec.check_id, service=spec.service)
        row.value = ev.value
        row.threshold = ev.threshold
        row.message = ev.message[:2000]
        row.last_eval_at = now
        if new.state in (AlertState.PENDING, AlertState.FIRING) and current.state not in (
            new.state, AlertState.FIRING
        ):  # a new episode: take the rule's current definition
            row.severity = spec.severity.value
            row.runbook = spec.runbook
            row.labels = dict(spec.labels)
            row.condition = spec.expr.text
            row.summary = spec.render_summary(ev)
        changes.apply(row, current, new, now, message=ev.message, value=ev.value)


_CHECK_LOCKS = 0x0A1E
"""The first key of the two-key advisory locks that serialize evaluations of a check (a key space of
its own: the duty locks use one 64-bit key)."""


def _serialize(session: Session, check_ids: Sequence[str]) -> None:
    """On PostgreSQL, evaluations of the same check by two processes take turns until the end of their
    transactions (a lease handover, a ping stored by an API process while the leaseholder records a
    miss): the second then reads the open alert the first made, instead of making one too and failing
    on its unique open key. Locks are taken in hash order, so two batches never deadlock."""
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite has one writer at a time
    session.execute(
        text(
            "SELECT pg_advisory_xact_lock(:space, h) FROM "
            "(SELECT DISTINCT hashtext(k) AS h FROM unnest(CAST(:keys AS text[])) AS k ORDER BY h) AS s"
        ),
        {"space": _CHECK_LOCKS, "keys": list(check_ids)},
    )


def _retire(changes: Changes, row: AlertRow, now: datetime) -> None:
    """Close an open alert that can no longer be evaluated: resolve it if firing, else retire it."""
    message = "the rule is no longer in the configuration"
    row.message = message
    row.last_eval_at = now
    before = status_of(row)
    changes.apply(row, before, retire(before, now), now, message=message, value=row.value, close=True)


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
