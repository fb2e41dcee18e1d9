"""Tables of the notify domain: the outbox (one row per message per channel) and its delivery attempts.

Status of an outbox row: `pending` (waiting for `next_attempt_at`), `sending` (claimed by a worker
until `lease_until`), `sent`, `failed` (given up), `cancelled`. The channel is stored by name only;
its URL (a secret) stays in the config.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from opsbook.db.base import Base
from opsbook.db.types import BigId, Json

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
CANCELLED = "cancelled"
STATUSES = (PENDING, SENDING, SENT, FAILED, CANCELLED)


class OutboxRow(Base):
    """One message to one channel, recorded in the transaction that decided it, before it is sent."""

    __tablename__ = "notify_outbox"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20))
    severity: Mapped[str | None] = mapped_column(String(4))
    subject: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    dedup_key: Mapped[str | None] = mapped_column(String(300))
    group_key: Mapped[str | None] = mapped_column(String(300))
    service: Mapped[str | None] = mapped_column(String(64))
    check_id: Mapped[str | None] = mapped_column(String(140))
    alert_id: Mapped[int | None] = mapped_column(BigId)
    incident_id: Mapped[int | None] = mapped_column(BigId)
    refs: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    status: Mapped[str] = mapped_column(String(12), default=PENDING)
    created_at: Mapped[datetime]
    age_from: Mapped[datetime]  # max_age counts from here (created_at, or a manual retry)
    next_attempt_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # failed attempts since age_from
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(Text, default="")

    attempt_rows: Mapped[list[AttemptRow]] = relationship(
        back_populates="outbox", order_by="AttemptRow.id", cascade="all, delete-orphan", passive_deletes=True
    )

    __table_args__ = (
        UniqueConstraint("channel", "dedup_key", name="uq_notify_outbox_channel_dedup"),
        Index("ix_notify_outbox_status_next", "status", "next_attempt_at"),
        Index("ix_notify_outbox_group", "channel", "group_key", "status"),
        Index("ix_notify_outbox_created", "created_at"),
    )


class AttemptRow(Base):
    """One try at delivering one outbox row: when, how long, whether it was accepted, and the error."""

    __tablename__ = "notify_attempts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    outbox_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("notify_outbox.id", ondelete="CASCADE"), index=True
    )
    ts: Mapped[datetime]
    duration_ms: Mapped[float] = mapped_column(Float, default=0.0)
    ok: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str] = mapped_column(Text, default="")
    worker: Mapped[str] = mapped_column(String(100), default="")

    outbox: Mapped[OutboxRow] = relationship(back_populates="attempt_rows")


class RateBucketRow(Base):
    """A channel's rate-limit bucket, shared by a cluster's delivery workers (notify.shared_limits)."""

    __tablename__ = "notify_rate_buckets"
    channel: Mapped[str] = mapped_column(String(64), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime]
