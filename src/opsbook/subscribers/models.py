"""Tables of the subscribers domain: the subscribers, what was announced to them, and the subscribe
requests counted for rate limiting.

A subscriber is `pending` until it confirms (double opt-in), then `active`; unsubscribing deletes the
row (nothing kept of an address that asked to go). `services` empty means every public service. The
nonces make links single-purpose: a new confirmation link voids the previous one (`confirm_nonce`), and
an unsubscribe link is bound to the subscription it was sent for (`unsubscribe_nonce`).

`status_announcements` records each public event once it was fanned out (its key, e.g.
`incident:12:update:3`), with the public services it was told for (none: it fell in a maintenance).
`subscribe_requests` keeps keyed digests (never the address or IP itself) of recent requests.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opsbook.db.base import Base
from opsbook.db.types import BigId, Json

PENDING = "pending"
ACTIVE = "active"
EMAIL = "email"
WEBHOOK = "webhook"


class SubscriberRow(Base):
    """One e-mail address or webhook URL subscribed to the status page."""

    __tablename__ = "status_subscribers"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(10))
    address: Mapped[str] = mapped_column(String(2048))
    address_key: Mapped[str] = mapped_column(String(64))  # keyed digest of kind + address: unique
    services: Mapped[list[str]] = mapped_column(Json, default=list)
    pending_services: Mapped[list[str] | None] = mapped_column(Json)
    status: Mapped[str] = mapped_column(String(10), default=PENDING)
    confirm_nonce: Mapped[str] = mapped_column(String(32))
    unsubscribe_nonce: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    confirm_sent_at: Mapped[datetime | None]
    confirmed_at: Mapped[datetime | None]

    __table_args__ = (
        Index("uq_status_subscribers_address_key", "address_key", unique=True),
        Index("ix_status_subscribers_status", "status"),
    )


class AnnouncementRow(Base):
    """A public event (incident opened, updated, resolved; maintenance ahead) fanned out to subscribers."""

    __tablename__ = "status_announcements"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    ts: Mapped[datetime] = mapped_column(index=True)
    services: Mapped[list[str]] = mapped_column(Json, default=list)
    told: Mapped[int] = mapped_column(BigId, default=0)
    note: Mapped[str] = mapped_column(Text, default="")


class SubscribeRequestRow(Base):
    """A subscribe request, counted against the per-IP and per-address limits, then forgotten."""

    __tablename__ = "subscribe_requests"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ts: Mapped[datetime] = mapped_column(index=True)
    ip_key: Mapped[str] = mapped_column(String(64), index=True)
    address_key: Mapped[str] = mapped_column(String(64), index=True)
    sent: Mapped[bool] = mapped_column(default=False)
