"""Tables of the on-call domain: overrides made at runtime and handoff notes (schedules live in config)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opsbook.db.base import Base
from opsbook.db.types import BigId


class OverrideRow(Base):
    """`user` is on call on `schedule` over [start, end), over every layer ("ana covers ben")."""

    __tablename__ = "oncall_overrides"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    schedule: Mapped[str] = mapped_column(String(64))
    user: Mapped[str] = mapped_column(String(64))
    covers: Mapped[str | None] = mapped_column(String(64))
    start: Mapped[datetime]
    end: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(100), default="")

    __table_args__ = (Index("ix_oncall_overrides_schedule_end", "schedule", "end"),)


class HandoffNoteRow(Base):
    """A note for whoever takes over `schedule` next, kept for good."""

    __tablename__ = "oncall_handoff_notes"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    schedule: Mapped[str] = mapped_column(String(64))
    author: Mapped[str] = mapped_column(String(100))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]

    __table_args__ = (Index("ix_oncall_handoff_notes_schedule_created", "schedule", "created_at"),)
