"""Tables of the alerts domain: one row per alert (a rule x check, or an external event's dedup key) and
its history of state changes.

An alert row lives from its first pending (or trigger) until it is resolved; then it stays as history and
the next activation of the same dedup key opens a new row. `open_key` equals `dedup_key` while the row is
not resolved and is NULL after, so a unique index on it allows exactly one open alert per dedup key on
both databases (NULLs are distinct). A rule alert whose pending clears goes back to `inactive` and keeps
its row for the next time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from opsbook.db.base import Base
from opsbook.db.types import BigId, Json

SOURCE_RULE = "rule"
SOURCE_PAGERDUTY = "pagerduty"
SOURCE_ALERTMANAGER = "alertmanager"


class AlertRow(Base):
    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dedup_key: Mapped[str] = mapped_column(String(300), index=True)
    open_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    source: Mapped[str] = mapped_column(String(20), default=SOURCE_RULE)
    rule: Mapped[str | None] = mapped_column(String(100))
    check_id: Mapped[str | None] = mapped_column(String(140), index=True)
    service: Mapped[str] = mapped_column(String(64), index=True)
    severity: Mapped[str] = mapped_column(String(4))
    state: Mapped[str] = mapped_column(String(10), index=True)
    value: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(Float)
    condition: Mapped[str] = mapped_column(Text, default="")  # the rule's `when`
    summary: Mapped[str] = mapped_column(Text, default="")
    message: Mapped[str] = mapped_column(Text, default="")  # the latest evaluation's sentence
    runbook: Mapped[str] = mapped_column(Text, default="")
    labels: Mapped[dict[str, str]] = mapped_column(Json, default=dict)
    created_at: Mapped[datetime]
    pending_since: Mapped[datetime | None]
    fired_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    clear_since: Mapped[datetime | None]  # firing, condition false since: the resolve waits (flap damping)
    due_at: Mapped[datetime | None] = mapped_column(index=True)  # evaluate again at, even without results
    last_eval_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    silenced: Mapped[bool] = mapped_column(Boolean, default=False)
    silenced_by: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[dict[str, Any] | None] = mapped_column(Json)  # external events: the last payload received


class AlertEventRow(Base):
    """One state change of an alert (pending, firing, resolved, inactive, acknowledged)."""

    __tablename__ = "alert_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(BigId, ForeignKey("alerts.id", ondelete="CASCADE"))
    ts: Mapped[datetime]
    from_state: Mapped[str | None] = mapped_column(String(12))
    to_state: Mapped[str] = mapped_column(String(12))
    value: Mapped[float | None] = mapped_column(Float)
    message: Mapped[str] = mapped_column(Text, default="")

    alert: Mapped[AlertRow] = relationship()

    __table_args__ = (Index("ix_alert_events_alert_ts", "alert_id", "ts"),)
