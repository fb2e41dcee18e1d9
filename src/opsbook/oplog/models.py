"""The table of the operations log: one entry per operation, in the runbooks' template fields."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opsbook.db.base import Base
from opsbook.db.types import BigId, Json


class OplogEntryRow(Base):
    """Date/Time, Operation, Reason, Impact, Duration, Issues, Follow-up; plus who, the incident and steps."""

    __tablename__ = "oplog_entries"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ts: Mapped[datetime]
    operation: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text, default="")
    impact: Mapped[str] = mapped_column(Text, default="")
    duration_s: Mapped[float | None] = mapped_column(Float)
    issues: Mapped[str] = mapped_column(Text, default="")
    follow_up: Mapped[str] = mapped_column(Text, default="")
    operator: Mapped[str] = mapped_column(String(100))
    incident_id: Mapped[str | None] = mapped_column(String(64))
    run_id: Mapped[int | None] = mapped_column(BigId, unique=True)
    source: Mapped[str] = mapped_column(String(20), default="manual")
    steps: Mapped[list[dict[str, Any]]] = mapped_column(Json, default=list)
    created_at: Mapped[datetime]

    __table_args__ = (Index("ix_oplog_entries_incident", "incident_id"), Index("ix_oplog_entries_ts", "ts"))
