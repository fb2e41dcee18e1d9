"""The outbox: recording a message in the caller's transaction, and the queries on it.

`enqueue` only adds a row to the session it is given: whoever decides that a message must go out
(an alert firing, an incident opening) commits the decision and the message together, so a crash
between "decided" and "sent" can never lose a notification. The delivery worker does the rest.
Only notify's own `service.send` calls it: other domains hand it typed messages.

Grouping is done here, at enqueue time: a message with a `group_key` and a `group_window` waits for
the window, and a later message with the same channel and key joins the waiting one (takes its send
time) if that is within its own window. The worker then sends all due rows of one channel and group
key as one message (see worker.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session, selectinload

from opsbook.notify.models import CANCELLED, FAILED, PENDING, OutboxRow


def enqueue(
    session: Session,
    *,
    channel: str,
    subject: str,
    body: str,
    kind: str,
    now: datetime,
    dedup_key: str | None = None,
    severity: str | None = None,
    service: str | None = None,
    check_id: str | None = None,
    alert_id: int | None = None,
    incident_id: int | None = None,
    refs: dict[str, Any] | None = None,
    group_key: str | None = None,
    group_window: timedelta = timedelta(0),
    send_after: datetime | None = None,
) -> OutboxRow | None:
    """Add a message for `channel` to the caller's transaction; the caller commits it.

    With a `dedup_key`, enqueueing the same (channel, dedup_key) again adds nothing and returns None,
    so re-deciding after a restart never sends twice. `send_after` holds the message until then (e.g.
    the start of business hours).
    """
    if dedup_key is not None and _by_dedup(session, channel, dedup_key) is not None:
        return None
    due = max(now, send_after) if send_after is not None else now
    if group_key is not None and group_window > timedelta(0):
        leader_due = session.scalar(
            select(OutboxRow.next_attempt_at)
            .where(
                OutboxRow.channel == channel,
                OutboxRow.group_key == group_key,
                OutboxRow.status == PENDING,
                OutboxRow.attempts == 0,
                OutboxRow.next_attempt_at >= due,
                OutboxRow.next_attempt_at <= due + group_window,
            )
            .order_by(OutboxRow.next_attempt_at)
            .limit(1)
        )
        due = leader_due if leader_due is not None else due + group_window
    values: dict[str, Any] = {
        "channel": channel,
        "kind": kind,
        "severity": severity,
        "subject": subject,
        "body": body,
        "dedup_key": dedup_key,
        "group_key": group_key,
        "service": service,
        "check_id": check_id,
        "alert_id": alert_id,
        "incident_id": incident_id,
        "refs": refs or {},
        "status": PENDING,
        "created_at": now,
        "age_from": now,
        "next_attempt_at": due,
        "attempts": 0,
        "last_error": "",
    }
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # imported here: a command on SQLite would spend 40 ms loading the PostgreSQL dialect
        from sqlalchemy.dialects import postgresql

        stmt: Any = postgresql.insert(OutboxRow).values(values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        stmt = sqlite.insert(OutboxRow).values(values).on_conflict_do_nothing()
    else:  # pragma: no cover - opsbook runs on SQLite and PostgreSQL
        row = OutboxRow(**values)
        session.add(row)
        session.flush()
        return row
    new_id = session.scalar(stmt.returning(OutboxRow.id))
    if new_id is None:  # a concurrent transaction enqueued the same (channel, dedup_key) first
        return None
    added = session.get(OutboxRow, new_id)
    assert added is not None
    return added


def _by_dedup(session: Session, channel: str, dedup_key: str) -> int | None:
    query = select(OutboxRow.id).where(OutboxRow.channel == channel, OutboxRow.dedup_key == dedup_key)
    return session.scalar(query)


def cancel(
    session: Session,
    now: datetime,
    *,
    ids: Sequence[int] = (),
    dedup_keys: Sequence[str] = (),
    reason: str = "",
) -> int:
    """Cancel messages not sent yet (pending only; one being sent is left to finish). Returns how many."""
    if not ids and not dedup_keys:
        return 0
    cond = OutboxRow.id.in_(list(ids)) if ids else OutboxRow.dedup_key.in_(list(dedup_keys))
    result = session.execute(
        update(OutboxRow)
        .where(cond, OutboxRow.status == PENDING)
        .values(status=CANCELLED, last_error=reason or "cancelled", lease_until=None, claimed_by=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


class NotRetryable(ValueError):
    """The row is being sent or was sent already."""


def retry(session: Session, outbox_id: int, now: datetime) -> OutboxRow | None:
    """Put a failed, cancelled or waiting message back for immediate delivery with a fresh retry budget."""
    row = session.get(OutboxRow, outbox_id)
    if row is None:
        return None
    if row.status not in (FAILED, CANCELLED, PENDING):
        raise NotRetryable(
            f"notification {outbox_id} is {row.status}; only failed, cancelled or pending ones can be retried"
        )
    row.status = PENDING
    row.next_attempt_at = now
    row.age_from = now
    row.attempts = 0
    row.claimed_by = None
    row.lease_until = None
    return row


def list_rows(
    session: Session,
    *,
    status: str | None = None,
    channel: str | None = None,
    kind: str | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> list[OutboxRow]:
    """Newest first, with their attempts loaded."""
    query = select(OutboxRow).options(selectinload(OutboxRow.attempt_rows)).order_by(OutboxRow.id.desc())
    if status:
        query = query.where(OutboxRow.status == status)
    if channel:
        query = query.where(OutboxRow.channel == channel)
    if kind:
        query = query.where(OutboxRow.kind == kind)
    if before_id is not None:
        query = query.where(OutboxRow.id < before_id)
    return list(session.scalars(query.limit(limit)))


def counts_by_status(session: Session) -> dict[str, int]:
    """How many rows are in each status (for metrics and `opsbook status`)."""
    rows = session.execute(select(OutboxRow.status, func.count()).group_by(OutboxRow.status))
    return {status: int(n) for status, n in rows}

