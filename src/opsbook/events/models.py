"""The change counters: one row per event topic, bumped by every transaction that emits an event of it.

Another process (a CLI command, a second `serve`) learns that something changed by reading these rows,
cheaply, instead of being told by the process that made the change.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from opsbook.db.base import Base


class ChangeCounterRow(Base):
    __tablename__ = "change_counters"

    topic: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
