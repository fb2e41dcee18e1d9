"""Writes results in batches and keeps each check's state and its up/down change log.

`write_batch` is called with one session for a whole batch: raw rows go in with one executemany,
states of the checks in the batch are read with one query, and every status change becomes a
state-change row. Rollups of results older than the rollup watermark are merged at once, so a late
result is never missing from the rollups.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import insert, select
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
    states = {
        s.check_id: s for s in session.scalars(select(CheckStateRow).where(CheckStateRow.check_id.in_(ids)))
    }
    for r in sorted(batch, key=lambda r: r.ts):
        state = states.get(r.check_id)
        if state is None:
            state = CheckStateRow(
                check_id=r.check_id, consecutive_failures=0, last_message="", created_at=r.ts
            )
            session.add(state)
            states[r.check_id] = state
        _apply(session, state, r, outcome)
    merge_late_results(session, batch)
    return outcome


def _apply(session: Session, state: CheckStateRow, r: StoredResult, outcome: BatchOutcome) -> None:
    if state.last_ts is not None and r.ts < state.last_ts:
        return  # an older result arriving late does not move the current state back
    status = r.result.status.value
    if state.status != status:
        change = StateChange(r.check_id, r.ts, state.status, status, r.result.message[:1000])
        session.add(
            StateChangeRow(
                check_id=change.check_id,
                ts=change.ts,
                from_status=change.from_status,
                to_status=change.to_status,
                message=change.message,
            )
        )
        outcome.changes.append(change)
        state.status = status
        state.since = r.ts
    state.last_ts = r.ts
    state.last_latency_ms = r.result.latency_ms
    state.last_message = r.result.message[:1000]
    state.consecutive_failures = state.consecutive_failures + 1 if r.result.status is Status.DOWN else 0


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
