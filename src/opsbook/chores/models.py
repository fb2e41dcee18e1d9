"""Tables of the chores domain: each time a chore fell due, and what became of it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opsbook.db.base import Base
from opsbook.db.types import BigId

DUE = "due"
OVERDUE = "overdue"
DONE = "done"
SKIPPED = "skipped"
OPEN = (DUE, OVERDUE)


class ChoreDueRow(Base):
    """One occurrence of a chore: due at `due_at`, to be done by `deadline` by `assignee`."""

    __tablename__ = "chore_dues"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    chore: Mapped[str] = mapped_column(String(64))
    procedure: Mapped[str] = mapped_column(String(400))
    due_at: Mapped[datetime]
    deadline: Mapped[datetime]
    assignee: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))
    reminded_at: Mapped[datetime | None]
    overdue_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(100))
    run_id: Mapped[int | None] = mapped_column(Integer)
    oplog_entry: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (
        Index("uq_chore_dues_chore_due", "chore", "due_at", unique=True),
        Index("ix_chore_dues_status", "status"),
    )
