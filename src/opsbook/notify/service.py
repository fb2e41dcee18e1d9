"""The one way out: every message opsbook sends goes through `send`, and the notify use cases.

`send(session, config, message, now)` takes a typed message (notify.messages) inside the caller's
transaction: it decides where it goes and when (its `destination`), renders it with the config's
templates, and adds one outbox row per channel (grouped and deduplicated in outbox.py). When rows were
added it emits `DomainEvent(Topic.OUTBOX, "queued")`, so the delivery worker is woken once the
decision commits. Nothing outside `notify/` writes outbox rows.

Use cases: `retry_notification` (send a failed message again); `send_test` (a test message to one
channel, delivered at once) is in channel_test.py, which loads Apprise. `cancel_pages` withdraws an
incident's pages not delivered yet; `cancel_channel` every message to a channel that is gone
(a status page subscriber who left), and `channel_counts` tells how delivery to channels went.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opsbook.auth.roles import Principal, Role
from opsbook.config.schema import OpsbookConfig
from opsbook.errors import Conflict, NotFound
from opsbook.events import DomainEvent, Topic, emit
from opsbook.notify import outbox
from opsbook.notify.messages import IncidentPage, Message
from opsbook.notify.models import FAILED, PENDING, SENDING, SENT, AttemptRow, OutboxRow
from opsbook.notify.templates import RenderedMessage, render
from opsbook.runtime import Runtime
from opsbook.usecase import transaction


class UnknownChannel(NotFound):
    pass


def render_message(config: OpsbookConfig, message: Message) -> RenderedMessage:
    """The subject and body of `message` with the config's templates, time zone, title and base URL."""
    rendered = render(
        message.kind,
        message.context(),
        config.notifications.templates,
        timezone=config.timezone,
        opsbook=config.title,
        base_url=config.base_url,
        server=config.server,
    )
    missing = [line for needle, line in message.essentials().items() if needle not in rendered.body]
    if not missing:
        return rendered
    return RenderedMessage(rendered.subject, "\n\n".join([rendered.body, *missing]))


def send(session: Session, config: OpsbookConfig, message: Message, now: datetime) -> list[OutboxRow]:
    """Route, render and queue `message` in the caller's transaction (it commits or rolls back with the
    decision). Returns the rows added: none if it goes nowhere, or if its dedup key was queued before."""
    where = message.destination(config, now)
    if not where.channels:
        return []
    rendered = render_message(config, message)
    tags = message.tags()
    key = message.dedup_key()
    added = [
        row
        for channel in where.channels
        if (row := outbox.enqueue(
            session, channel=channel, subject=rendered.subject, body=rendered.body, kind=message.kind,
            now=now, dedup_key=key, severity=tags.severity, service=tags.service, check_id=tags.check_id,
            alert_id=tags.alert_id, incident_id=tags.incident_id,
            refs={**tags.refs, "action": where.action}, group_key=where.group_key,
            group_window=where.group_window, send_after=where.send_after,
        )) is not None
    ]
    if added:
        emit(session, DomainEvent(Topic.OUTBOX, "queued", message.kind, {"rows": len(added)}))
    return added


def cancel_pages(session: Session, incident_id: int, now: datetime, reason: str) -> int:
    """Withdraw the pages about `incident_id` not delivered yet (it was acknowledged or resolved)."""
    ids = session.scalars(
        select(OutboxRow.id).where(OutboxRow.incident_id == incident_id, OutboxRow.kind == IncidentPage.kind,
                                   OutboxRow.status == PENDING)
    ).all()
    return outbox.cancel(session, now, ids=list(ids), reason=reason)


def cancel_channel(session: Session, channel: str, now: datetime, reason: str) -> int:
    """Withdraw every message to `channel` not delivered yet (its subscriber left, for one)."""
    ids = session.scalars(
        select(OutboxRow.id).where(OutboxRow.channel == channel, OutboxRow.status == PENDING)
    ).all()
    return outbox.cancel(session, now, ids=list(ids), reason=reason)


@dataclass(frozen=True)
class ChannelCounts:
    """How delivery to one channel went: messages sent, given up, waiting; failed attempts."""

    sent: int = 0
    failed: int = 0
    waiting: int = 0
    failed_attempts: int = 0


def channel_counts(session: Session, channels: Sequence[str]) -> dict[str, ChannelCounts]:
    """Delivery counts of each of `channels` (two grouped queries however many)."""
    if not channels:
        return {}
    by_status: dict[str, dict[str, int]] = {}
    for channel, status, n in session.execute(
        select(OutboxRow.channel, OutboxRow.status, func.count())
        .where(OutboxRow.channel.in_(list(channels))).group_by(OutboxRow.channel, OutboxRow.status)
    ):
        by_status.setdefault(channel, {})[status] = int(n)
    attempts = {channel: int(n) for channel, n in session.execute(
        select(OutboxRow.channel, func.count(AttemptRow.id))
        .join(AttemptRow, AttemptRow.outbox_id == OutboxRow.id)
        .where(OutboxRow.channel.in_(list(channels)), AttemptRow.ok.is_(False)).group_by(OutboxRow.channel)
    )}
    return {
        c: ChannelCounts(by_status.get(c, {}).get(SENT, 0), by_status.get(c, {}).get(FAILED, 0),
                         by_status.get(c, {}).get(PENDING, 0) + by_status.get(c, {}).get(SENDING, 0),
                         int(attempts.get(c, 0)))
        for c in channels
    }


def retry_notification(runtime: Runtime, actor: Principal, outbox_id: int) -> OutboxRow:
    """Put a failed, cancelled or waiting message back for delivery now, with a fresh retry budget."""
    with transaction(runtime, actor, needs=Role.RESPONDER) as tx:
        try:
            row = outbox.retry(tx.session, outbox_id, tx.now)
        except outbox.NotRetryable as exc:
            raise Conflict(str(exc)) from None
        if row is None:
            raise NotFound(f"no notification {outbox_id}")
        tx.audit("notification.retry", f"notification:{outbox_id}", channel=row.channel)
        tx.emit(DomainEvent(Topic.OUTBOX, "retried", f"notification:{outbox_id}"))
        return row


def outbox_counts(session: Session) -> dict[str, int]:
    """Messages in the outbox by status (for /metrics): the read other modules may make of it."""
    return outbox.counts_by_status(session)
