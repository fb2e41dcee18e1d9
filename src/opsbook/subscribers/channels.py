"""Where a subscriber's outbox row is delivered: the channel `subscriber:ID` resolved, when it is sent, to
the subscriber's address (the delivery worker asks `SubscriberChannels`).

- E-mail goes through the configured mail channel (`status_page.subscribers.mail_channel`) with `to=` the
  subscriber and the headers `List-Unsubscribe: <BASE_URL/status/unsubscribe/TOKEN>` and
  `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058), set through Apprise's `+Header=value`
  arguments of mailto URLs. It shares the mail channel's rate limit (the channel's name is the bucket).
- A webhook is POSTed as JSON (Apprise json:// or jsons://), limited by `webhook_rate_limit` per webhook.

The address and its host are returned as secrets of the send, so a delivery error quoting them is masked
before it is stored or logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy.orm import Session, sessionmaker

from opsbook.clock import Clock
from opsbook.config.schema import OpsbookConfig
from opsbook.notify.config import Channel
from opsbook.subscribers import addresses, links
from opsbook.subscribers.messages import subscriber_of
from opsbook.subscribers.models import EMAIL, SubscriberRow

ONE_CLICK = "List-Unsubscribe=One-Click"


@dataclass(frozen=True)
class Resolved:
    channel: Channel
    secrets: frozenset[str]


def unsubscribe_link(session: Session, config: OpsbookConfig, subscriber_id: int, nonce: str,
                     now: datetime) -> str:
    """The signed one-click unsubscribe link of a subscription (its id and unsubscribe nonce)."""
    token = links.make(session, config, links.UNSUBSCRIBE, subscriber_id, nonce, now)
    return links.url(config, "unsubscribe", token)


def resolve(session: Session, config: OpsbookConfig, name: str, now: datetime) -> Resolved | None:
    """The channel of outbox channel `name` if it is a subscriber's (None if not, or gone)."""
    subscriber_id = subscriber_of(name)
    if subscriber_id is None:
        return None
    row = session.get(SubscriberRow, subscriber_id)
    if row is None:
        return None
    settings = config.status_page.subscribers
    host = urlsplit(row.address).hostname if row.kind != EMAIL else None
    secrets = frozenset(s for s in (row.address, host) if s)
    if row.kind == EMAIL:
        mail = next((c for c in config.channels if c.name == settings.mail_channel), None)
        if mail is None:
            return None
        link = unsubscribe_link(session, config, row.id, row.unsubscribe_nonce, now)
        headers = {"List-Unsubscribe": f"<{link}>",
                   "List-Unsubscribe-Post": ONE_CLICK}
        url = addresses.mail_apprise_url(mail.url, row.address, headers)
        channel = Channel.model_construct(name=mail.name, url=url, rate_limit=mail.rate_limit,
                                          description=f"subscriber {row.id}")
        return Resolved(channel, secrets | mail.secrets())
    url = addresses.webhook_apprise_url(row.address)
    channel = Channel.model_construct(name=name, url=url, rate_limit=settings.webhook_rate_limit,
                                      description=f"subscriber {row.id}")
    return Resolved(channel, secrets | channel.secrets())


class SubscriberChannels:
    """The delivery worker's resolver of `subscriber:ID` channels (called in a worker thread)."""

    def __init__(self, sessions: sessionmaker[Session], config: OpsbookConfig, clock: Clock) -> None:
        self.sessions = sessions
        self.config = config
        self.clock = clock

    def __call__(self, name: str) -> tuple[Channel, frozenset[str]] | None:
        if subscriber_of(name) is None:
            return None
        with self.sessions.begin() as session:  # begin: the link secret may be created on first use
            found = resolve(session, self.config, name, self.clock.now())
        return (found.channel, found.secrets) if found is not None else None
