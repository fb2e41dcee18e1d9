"""Writes results in batches and keeps each check's state and its up/down change log.

`write_batch` is called with one session for a whole batch: raw rows go in with one executemany,
states of the checks in the batch are read with one query and written back with two more (insert new,
update moved), and every status change becomes a state-change row (one more executemany). Rollups of
results older than the rollup watermark are merged at once, so a late result is never missing from them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from opsbook.checks.models import CheckStateRow, ResultRow, StateChangeRow
from opsbook.checks.result import Status, StoredResult
from opsbook.checks.rollup import merge_late_results


@dataclass(frozen=True, slots=True)
class StateChange:
    check_id: str
    ts: datetime
    from_status: str | None
    to_status: str
    message: str


@dataclass
class BatchOutcome:
    """What a batch changed: checks whose status moved, for the layers downstream."""

    changes: list[StateChange] = field(default_factory=list)
    check_ids: set[str] = field(default_factory=set)


@dataclass(slots=True)
class _State:
    """The columns of a check's state that a batch moves (plain data: no ORM objects on the hot path)."""

    status: str | None
    since: datetime | None
    last_ts: datetime | None
    consecutive_failures: int
    last_latency_ms: float | None = None
    last_message: str = ""
    new: bool = False
    touched: bool = False


def write_batch(session: Session, batch: Sequence[StoredResult]) -> BatchOutcome:
    outcome = BatchOutcome()
    if not batch:
        return outcome
    session.execute(
        insert(ResultRow),
        [
            {
                "check_id": r.check_id,
                "ts": r.ts,
                "status": r.result.status.value,
                "latency_ms": r.result.latency_ms,
                "message": r.result.message[:4000],
                "values": dict(r.result.values),
            }
            for r in batch
        ],
    )
    ids = {r.check_id for r in batch}
    outcome.check_ids = ids
    found = session.execute(
        select(
            CheckStateRow.check_id,
            CheckStateRow.status,
            CheckStateRow.since,
            CheckStateRow.last_ts,
            CheckStateRow.consecutive_failures,
        ).where(CheckStateRow.check_id.in_(ids))
    )
    current = {row[0]: _State(row[1], row[2], row[3], row[4] or 0) for row in found}
    for r in sorted(batch, key=lambda r: r.ts):
        state = current.get(r.check_id)
        if state is None:
            state = current[r.check_id] = _State(None, None, None, 0, new=True)
        _apply(state, r, outcome)
    _save(session, current, {r.check_id: r.ts for r in batch})
    if outcome.changes:
        session.execute(
            insert(StateChangeRow),
            [
                {
                    "check_id": c.check_id,
                    "ts": c.ts,
                    "from_status": c.from_status,
                    "to_status": c.to_status,
                    "message": c.message,
                }
                for c in outcome.changes
            ],
        )
    merge_late_results(session, batch)
    return outcome


def _apply(state: _State, r: StoredResult, outcome: BatchOutcome) -> None:
    if state.last_ts is not None and r.ts < state.last_ts:
        return  # an older result arriving late does not move the current state back
    status = r.result.status.value
    if state.status != status:
        outcome.changes.append(StateChange(r.check_id, r.ts, state.status, status, r.result.message[:1000]))
        state.status = status
        state.since = r.ts
    state.touched = True
    state.last_ts = r.ts
    state.last_latency_ms = r.result.latency_ms
    state.last_message = r.result.message[:1000]
    state.consecutive_failures = state.consecutive_failures + 1 if r.result.status is Status.DOWN else 0


def _save(session: Session, current: dict[str, _State], first_seen: dict[str, datetime]) -> None:
    """Insert new states, update moved ones and log the changes: three executemany statements."""
    new: list[dict[str, Any]] = []
    old: list[dict[str, Any]] = []
    for check_id, st in current.items():
        if not st.touched:
            continue
        row: dict[str, Any] = {
            "check_id": check_id,
            "status": st.status,
            "since": st.since,
            "last_ts": st.last_ts,
            "last_latency_ms": st.last_latency_ms,
            "last_message": st.last_message,
            "consecutive_failures": st.consecutive_failures,
        }
        if st.new:
            new.append({**row, "created_at": first_seen[check_id]})
        else:
            old.append(row)
    if new:
        session.execute(insert(CheckStateRow), new)
    if old:
        session.execute(update(CheckStateRow), old)  # bulk UPDATE by primary key


def states(session: Session, check_ids: Iterable[str] | None = None) -> dict[str, CheckStateRow]:
    query = select(CheckStateRow)
    if check_ids is not None:
        query = query.where(CheckStateRow.check_id.in_(list(check_ids)))
    return {s.check_id: s for s in session.scalars(query)}


def results(
    session: Session, check_id: str, start: datetime, end: datetime, limit: int = 1000
) -> list[ResultRow]:
    """Raw results of one check in [start, end), newest first."""
    return list(
        session.scalars(
            select(ResultRow)
            .where(ResultRow.check_id == check_id, ResultRow.ts >= start, ResultRow.ts < end)
            .order_by(ResultRow.ts.desc())
            .limit(limit)
        )
    )
