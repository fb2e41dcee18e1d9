"""Writes results in batches and keeps each check's state and its up/down change log.

`write_batch` is called with one session for a whole batch: the checks' integer keys are looked up
(one query; new checks numbered), states of the checks in the batch are read with one query, raw rows go
in with one executemany, states are written back with two more (insert new, update moved), and every
status change becomes a state-change row (one more executemany). Rollups of results older than the
rollup watermark are merged at once, so a late result is never missing from them.

Raw rows are stored compactly (`checks.compact`). A result's message is stored only when it differs
from the check's previous result's, and always on the check's first result of each hour and on a late
result: a NULL message means "as the result before", found within the same hour (`results` fills it
in; retention deletes whole hours so the hour's first message is never gone while its hour is kept).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from opsbook.checks import compact, keys
from opsbook.checks.models import CheckStateRow, ResultRow, StateChangeRow
from opsbook.checks.result import Status, StoredResult
from opsbook.checks.rollup import HOUR, merge_late_results
from opsbook.rules.evaluate import Sample

MESSAGE_MAX = 4000
STATE_MESSAGE_MAX = 1000

WRITTEN_KEY = "opsbook.results_written"
NEWEST_KEY = "opsbook.results_newest_before"
"""`session.info` key: check → time of its newest result stored before this transaction (by any process),
as its state said when the transaction first wrote results of it (alerts.windows: a kept window that
lacks it missed a result another process wrote, and is read again)."""
"""`session.info` key: the results written in the session's transaction (alerts.windows takes them in)."""


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
    ids = {r.check_id for r in batch}
    outcome.check_ids = ids
    key = keys.ensure(session, ids)
    found = session.execute(
        select(
            CheckStateRow.check_id,
            CheckStateRow.status,
            CheckStateRow.since,
            CheckStateRow.last_ts,
            CheckStateRow.consecutive_failures,
            CheckStateRow.last_message,
        ).where(CheckStateRow.check_id.in_(ids))
    )
    current = {
        row[0]: _State(row[1], row[2], row[3], row[4] or 0, last_message=row[5] or "") for row in found
    }
    newest = session.info.setdefault(NEWEST_KEY, {})
    for check_id, st in current.items():
        newest.setdefault(check_id, st.last_ts)
    rows: list[dict[str, Any]] = []
    late: list[tuple[int, int]] = []
    for r in sorted(batch, key=lambda r: r.ts):
        state = current.get(r.check_id)
        if state is None:
            state = current[r.check_id] = _State(None, None, None, 0, new=True)
        message = r.result.message[:MESSAGE_MAX]
        keep = _message_changes(state, r.ts, message)
        if state.last_ts is not None and r.ts < state.last_ts:
            late.append((key[r.check_id], compact.to_us(r.ts)))
        _apply(state, r, outcome)
        rows.append({
            "check_key": key[r.check_id],
            "ts": compact.to_us(r.ts),
            "status": compact.STATUS_CODE[r.result.status.value],
            "latency_ms": r.result.latency_ms,
            "message": message if keep else None,
            "values": compact.pack_values(r.result.values),
        })
    for late_key, late_ts in late:
        _pin_next_message(session, late_key, late_ts)
    session.execute(insert(ResultRow), rows)
    session.info.setdefault(WRITTEN_KEY, []).extend(batch)
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
    merge_late_results(session, batch, key)
    return outcome


def _message_changes(state: _State, ts: datetime, message: str) -> bool:
    """Whether this result's message is stored (see the module's docstring)."""
    last = state.last_ts
    if last is None or ts <= last:
        return True  # the first result, a late one, or one at the same instant as the newest
    if compact.to_s(ts) // HOUR != compact.to_s(last) // HOUR:
        return True  # the hour's first result carries its message
    return len(message) >= STATE_MESSAGE_MAX or message != state.last_message


def _pin_next_message(session: Session, key: int, ts: int) -> None:
    """Before a late result goes in at `ts`: the stored row after it, if its message is "as before",
    gets its message written out, so the late result's message does not become its predecessor's."""
    following = session.execute(
        select(ResultRow.ts, ResultRow.message)
        .where(ResultRow.check_key == key, ResultRow.ts > ts)
        .order_by(ResultRow.ts)
        .limit(1)
    ).first()
    if following is None or following[1] is not None:
        return
    session.execute(
        update(ResultRow)
        .where(ResultRow.check_key == key, ResultRow.ts == following[0], ResultRow.message.is_(None))
        .values(message=_message_before(session, key, following[0]))
        .execution_options(synchronize_session=False)
    )


def _apply(state: _State, r: StoredResult, outcome: BatchOutcome) -> None:
    if state.last_ts is not None and r.ts < state.last_ts:
        return  # an older result arriving late does not move the current state back
    status = r.result.status.value
    if state.status != status:
        outcome.changes.append(
            StateChange(r.check_id, r.ts, state.status, status, r.result.message[:STATE_MESSAGE_MAX])
        )
        state.status = status
        state.since = r.ts
    state.touched = True
    state.last_ts = r.ts
    state.last_latency_ms = r.result.latency_ms
    state.last_message = r.result.message[:STATE_MESSAGE_MAX]
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


@dataclass(frozen=True, slots=True)
class StoredRow:
    """A raw result as read back: what the API, the check page and the rule windows show."""

    check_id: str
    ts: datetime
    status: str
    latency_ms: float | None
    message: str
    values: dict[str, Any]

    def sample(self) -> Sample:
        return Sample(self.ts, self.status, self.latency_ms, self.values, self.message)


_COLUMNS = (ResultRow.check_key, ResultRow.ts, ResultRow.status, ResultRow.latency_ms, ResultRow.message,
            ResultRow.values)


def results(
    session: Session, check_id: str, start: datetime, end: datetime, limit: int = 1000,
    *, statuses: Iterable[str] | None = None,
) -> list[StoredRow]:
    """Raw results of one check in [start, end), newest first (`statuses`: only those)."""
    query = (
        select(*_COLUMNS)
        .where(ResultRow.check_key == keys.key_of(check_id))
        .where(ResultRow.ts >= compact.to_us(start), ResultRow.ts < compact.to_us(end))
    )
    if statuses is not None:
        query = query.where(ResultRow.status.in_([compact.STATUS_CODE[s] for s in statuses]))
    rows = list(session.execute(query.order_by(ResultRow.ts.desc()).limit(limit)))
    names = {rows[0][0]: check_id} if rows else {}
    if statuses is None:
        return _decode(session, names, rows[::-1])[::-1]
    # filtered rows are not consecutive: each NULL message is filled from the rows before it
    return [_decode(session, names, [row])[0] for row in rows]


def recent(
    session: Session, check_ids: Sequence[str], since: datetime, until: datetime,
    *, known: Mapping[str, tuple[datetime, str]] | None = None,
) -> dict[str, list[StoredRow]]:
    """Raw results of these checks in (since, until], oldest first (equal times in the order stored).

    `known`: a check's newest result the caller already has (its time and message): only results after
    it are returned, and one whose message is "as before" continues from that message (no query)."""
    key = keys.lookup(session, check_ids)
    by_key = {k: name for name, k in key.items()}
    after = {key[name]: (compact.to_us(ts), message) for name, (ts, message) in (known or {}).items()
             if name in key}
    out: dict[str, list[StoredRow]] = {}
    ordered = sorted(by_key)
    for i in range(0, len(ordered), keys.CHUNK):
        chunk = ordered[i : i + keys.CHUNK]
        rows = list(session.execute(
            select(*_COLUMNS)
            .where(ResultRow.check_key.in_(chunk))
            .where(ResultRow.ts > compact.to_us(since), ResultRow.ts <= compact.to_us(until))
            .order_by(ResultRow.check_key, ResultRow.ts)
        ))
        if after:
            rows = [row for row in rows if row[0] not in after or row[1] > after[row[0]][0]]
        for row in _decode(session, by_key, rows, {k: message for k, (_ts, message) in after.items()}):
            out.setdefault(row.check_id, []).append(row)
    return out


def _decode(
    session: Session, names: dict[int, str], rows: Sequence[Any], carry: dict[int, str] | None = None
) -> list[StoredRow]:
    """Rows (grouped by check, oldest first) as StoredRows, NULL messages filled in (`carry`: the message
    a check's first row continues from, when known)."""
    out: list[StoredRow] = []
    carry = dict(carry or {})
    for key, ts, status, latency, message, values in rows:
        if message is None:
            if key not in carry:
                carry[key] = _message_before(session, key, ts)
            message = carry[key]
        else:
            carry[key] = message
        out.append(StoredRow(names[key], compact.from_us(ts), compact.STATUSES[status], latency, message,
                             compact.unpack_values(values)))
    return out


def _message_before(session: Session, key: int, ts: int) -> str:
    """The newest stored message of a check before `ts` (at most an hour back: see the module doc)."""
    found = session.scalar(
        select(ResultRow.message)
        .where(ResultRow.check_key == key, ResultRow.ts < ts, ResultRow.message.is_not(None))
        .order_by(ResultRow.ts.desc())
        .limit(1)
    )
    return found or ""


def measured_values(
    session: Session, check_ids: Iterable[str], start: datetime, end: datetime
) -> Iterator[tuple[str, datetime, dict[str, Any]]]:
    """(check, time, values) of the results in [start, end) of these checks that measured anything."""
    by_key = {k: name for name, k in keys.lookup(session, check_ids).items()}
    ordered = sorted(by_key)
    for i in range(0, len(ordered), keys.CHUNK):
        rows = session.execute(
            select(ResultRow.check_key, ResultRow.ts, ResultRow.values).where(
                ResultRow.check_key.in_(ordered[i : i + keys.CHUNK]),
                ResultRow.ts >= compact.to_us(start),
                ResultRow.ts < compact.to_us(end),
                ResultRow.values.is_not(None),
            )
        )
        for key, ts, values in rows:
            yield by_key[key], compact.from_us(ts), compact.unpack_values(values)


def newest_values(session: Session, check_id: str, limit: int) -> list[tuple[datetime, dict[str, Any]]]:
    """(time, values) of a check's newest `limit` results, newest first."""
    rows = session.execute(
        select(ResultRow.ts, ResultRow.values)
        .where(ResultRow.check_key == keys.key_of(check_id))
        .order_by(ResultRow.ts.desc())
        .limit(limit)
    )
    return [(compact.from_us(ts), compact.unpack_values(values)) for ts, values in rows]
