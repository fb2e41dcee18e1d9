"""The use cases of status page subscriptions, and the announcing of public events to subscribers.

A visitor subscribes (`subscribe`): the address is checked, the request counted against the per-IP and
per-address limits, and a confirmation link sent (double opt-in). The answer is the same whether the
address was new, waiting or subscribed already, so the form tells nobody who subscribes. `confirm`
activates the subscription (or its change of services); `unsubscribe` deletes it, from the link in any
message or a one-click List-Unsubscribe POST; an admin may `remove` one. Each change is audited and emits
`Topic.SUBSCRIBERS`.

`sync` (the subscriber watch, on the pipeline) announces what is public: a published incident's opening,
its public updates and its resolution, and each scheduled maintenance `maintenance_lead` before it
starts. Each event is fanned out once (`status_announcements`), to the active subscribers of the public
services it concerns, minus those in a maintenance at the time: nothing is told during a maintenance for
what it covers (nor later about an incident that opened during it). Only public text is used.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from opsbook.auth.roles import Principal, Role
from opsbook.config.schema import OpsbookConfig
from opsbook.errors import Conflict, Invalid, NotFound
from opsbook.events import DomainEvent, Topic
from opsbook.incidents.signed import LinkInvalid, link_secret
from opsbook.notify.service import ChannelCounts, cancel_channel, channel_counts, send
from opsbook.runtime import Runtime
from opsbook.subscribers import addresses, announce, links
from opsbook.subscribers.channels import unsubscribe_link
from opsbook.subscribers.messages import SubscriptionConfirm, channel_of
from opsbook.subscribers.models import (
    ACTIVE,
    EMAIL,
    PENDING,
    WEBHOOK,
    SubscribeRequestRow,
    SubscriberRow,
)
from opsbook.usecase import transaction

KEEPALIVE = timedelta(hours=1)


class TooManyRequests(Conflict):
    """Too many subscribe requests from one place: try later."""

    http_status = 429


def visitor(ip: str) -> Principal:
    """Who acts for an anonymous visitor of the status page (the audit log keeps the client address)."""
    return Principal("status page visitor", Role.VIEWER, ip or "unknown")


def kinds_offered(config: OpsbookConfig) -> list[str]:
    """The ways to subscribe the config allows: e-mail with a mail channel, webhooks unless turned off."""
    settings = config.status_page.subscribers
    offered = [EMAIL] if settings.mail_channel else []
    return [*offered, WEBHOOK] if settings.webhooks else offered


def public_services(config: OpsbookConfig) -> list[str]:
    return [s.name for s in config.services if s.public]


def _choice(config: OpsbookConfig, services: Sequence[str]) -> list[str]:
    """The services chosen (none: every public service), each a public one."""
    public = public_services(config)
    chosen = sorted({s.strip() for s in services if s.strip()})
    unknown = [s for s in chosen if s not in public]
    if unknown:
        raise Invalid(f"no public service {unknown[0]!r} on this status page")
    return [] if set(chosen) == set(public) else chosen


def _secret(session: Session, config: OpsbookConfig) -> str:
    return link_secret(session, config.incidents.link_secret)


def _recent(
    session: Session, column: InstrumentedAttribute[str], key: str, since: datetime, sent_only: bool = False
) -> int:
    query = select(func.count()).select_from(SubscribeRequestRow).where(
        column == key, SubscribeRequestRow.ts > since)
    if sent_only:
        query = query.where(SubscribeRequestRow.sent.is_(True))
    return int(session.scalar(query) or 0)


def _existing(session: Session, address_key: str) -> SubscriberRow | None:
    return session.scalars(select(SubscriberRow).where(SubscriberRow.address_key == address_key)).first()


def _new(session: Session, kind: str, address: str, address_key: str, services: list[str],
         now: datetime) -> SubscriberRow:
    """A pending subscriber; if a concurrent request made the same one first (the unique address key),
    that one."""
    row = SubscriberRow(kind=kind, address=address, address_key=address_key, services=services,
                        pending_services=None, status=PENDING, confirm_nonce=secrets.token_hex(8),
                        unsubscribe_nonce=secrets.token_hex(8), created_at=now)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        found = _existing(session, address_key)
        if found is None:
            raise
        return found
    return row


def page_title(config: OpsbookConfig) -> str:
    return config.status_page.title or config.title


def page_link(config: OpsbookConfig) -> str:
    return f"{config.base_url.rstrip('/')}/status"


def subscribe(runtime: Runtime, actor: Principal, kind: str, address: str, services: Sequence[str]) -> None:
    """Ask for a subscription of `address` (an e-mail address or webhook URL) to `services` (none: all).

    Sends a confirmation link unless the address had its `per_address` share of them; refuses a client
    over its `per_ip` share (TooManyRequests). Whatever the address's state, the caller learns nothing.
    """
    config = runtime.config
    settings = config.status_page.subscribers
    if not settings.enabled or not config.status_page.enabled:
        raise NotFound("this status page offers no subscriptions")
    if kind not in kinds_offered(config):
        raise Invalid(f"this status page offers subscriptions by {' or '.join(kinds_offered(config))} only")
    chosen = _choice(config, services)
    checked = addresses.check(kind, address, settings.private_webhooks)  # may resolve a host: outside tx
    with transaction(runtime, actor) as tx:
        session, now = tx.session, tx.now
        secret = _secret(session, config)
        ip_key = addresses.digest(secret, "ip", actor.source)
        address_key = addresses.digest(secret, kind, checked)
        oldest = now - max(settings.per_ip.per, settings.per_address.per)
        session.execute(delete(SubscribeRequestRow).where(SubscribeRequestRow.ts <= oldest))
        from_ip = _recent(session, SubscribeRequestRow.ip_key, ip_key, now - settings.per_ip.per)
        if from_ip >= settings.per_ip.count:
            raise TooManyRequests("too many subscribe requests from your address; try again later")
        allowed = _recent(session, SubscribeRequestRow.address_key, address_key,
                          now - settings.per_address.per, sent_only=True) < settings.per_address.count
        session.add(SubscribeRequestRow(ts=now, ip_key=ip_key, address_key=address_key, sent=allowed))
        row = _existing(session, address_key)
        if row is None:
            row = _new(session, kind, checked, address_key, chosen, now)
        change = row.status == ACTIVE
        if row.status == PENDING:
            row.services = chosen
        else:
            row.pending_services = chosen
        if allowed:
            row.confirm_nonce = secrets.token_hex(8)
            row.confirm_sent_at = now
            token = links.make(session, config, links.CONFIRM, row.id, row.confirm_nonce, now)
            send(session, config, SubscriptionConfirm(
                subscriber_id=row.id, page=page_title(config), page_link=page_link(config),
                unsubscribe_link="", nonce=row.confirm_nonce, channel_kind=kind, services=tuple(chosen),
                confirm_link=links.url(config, "confirm", token), within=settings.confirm_within,
                change=change,
            ), now)
        tx.audit("subscriber.request", f"subscriber:{row.id}", kind=kind, sent=allowed)
        tx.emit(DomainEvent(Topic.SUBSCRIBERS, "requested", f"subscriber:{row.id}"))


def confirm(runtime: Runtime, actor: Principal, token: str) -> list[str]:
    """Activate the subscription a confirmation link names (or its change); returns its services (none:
    all). Refuses a forged, expired or superseded link."""
    with transaction(runtime, actor) as tx:
        claim = links.read(tx.session, runtime.config, links.CONFIRM, token, tx.now)
        row = tx.session.get(SubscriberRow, claim.subscriber_id)
        if row is None or row.confirm_nonce != claim.nonce:
            raise LinkInvalid("this link is no longer valid (a newer one was sent, or you unsubscribed)")
        if row.pending_services is not None:
            row.services, row.pending_services = list(row.pending_services), None
        if row.status != ACTIVE:
            row.status, row.confirmed_at = ACTIVE, tx.now
        tx.audit("subscriber.confirm", f"subscriber:{row.id}")
        tx.emit(DomainEvent(Topic.SUBSCRIBERS, "confirmed", f"subscriber:{row.id}"))
        return list(row.services)


def _drop(session: Session, row: SubscriberRow, now: datetime, reason: str) -> None:
    cancel_channel(session, channel_of(row.id), now, reason)
    session.delete(row)


def unsubscribe(runtime: Runtime, actor: Principal, token: str) -> None:
    """End the subscription an unsubscribe link names (nothing to do if it ended already); refuses a
    forged link."""
    with transaction(runtime, actor) as tx:
        claim = links.read(tx.session, runtime.config, links.UNSUBSCRIBE, token, tx.now)
        row = tx.session.get(SubscriberRow, claim.subscriber_id)
        if row is None or row.unsubscribe_nonce != claim.nonce:
            return
        _drop(tx.session, row, tx.now, "the subscriber unsubscribed")
        tx.audit("subscriber.unsubscribe", f"subscriber:{claim.subscriber_id}")
        tx.emit(DomainEvent(Topic.SUBSCRIBERS, "unsubscribed", f"subscriber:{claim.subscriber_id}"))


def remove(runtime: Runtime, actor: Principal, subscriber_id: int) -> None:
    """An admin removes a subscriber (its messages not sent yet are withdrawn)."""
    with transaction(runtime, actor, needs=Role.ADMIN) as tx:
        row = tx.session.get(SubscriberRow, subscriber_id)
        if row is None:
            raise NotFound(f"no subscriber {subscriber_id}")
        _drop(tx.session, row, tx.now, f"subscriber removed by {actor.name}")
        tx.audit("subscriber.remove", f"subscriber:{subscriber_id}")
        tx.emit(DomainEvent(Topic.SUBSCRIBERS, "removed", f"subscriber:{subscriber_id}"))


@dataclass(frozen=True)
class SubscriberView:
    """A subscriber as admins see it: the address masked, and how delivery to it went."""

    id: int
    kind: str
    masked: str
    services: tuple[str, ...]  # none: every public service
    status: str
    created_at: datetime
    confirmed_at: datetime | None
    delivery: ChannelCounts


def views(runtime: Runtime, limit: int = 500) -> list[SubscriberView]:
    """The subscribers, newest first, addresses masked, with their delivery and failure counts."""
    with runtime.sessions() as session:
        rows = list(session.scalars(select(SubscriberRow).order_by(SubscriberRow.id.desc()).limit(limit)))
        counts = channel_counts(session, [channel_of(r.id) for r in rows])
    return [
        SubscriberView(r.id, r.kind, addresses.mask(r.kind, r.address), tuple(r.services), r.status,
                       r.created_at, r.confirmed_at, counts.get(channel_of(r.id), ChannelCounts()))
        for r in rows
    ]


def sync(runtime: Runtime) -> datetime | None:
    """Announce what became public since the last round and forget what expired; returns when the next
    maintenance notice is due or the next unconfirmed subscription runs out (at most KEEPALIVE ahead)."""
    config = runtime.config
    if not config.status_page.subscribers.enabled:
        return None
    with runtime.sessions() as session:  # committed in chunks: see announce.Fanout
        now = runtime.clock.now()
        try:
            due = [announce.announce(session, config, now, unsubscribe_link, session.commit),
                   announce.forget(session, config, now)]
            session.commit()
        except BaseException:
            session.rollback()
            raise
    return min([t for t in due if t is not None] + [now + KEEPALIVE])
