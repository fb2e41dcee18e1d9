"""Tables of the secrets domain: rotations learned (never values), compromises reported."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opsbook.db.base import Base
from opsbook.db.types import BigId


class RotationRow(Base):
    """A rotation of a secret: when it happened and how opsbook learned of it.

    `source`: manual (`opsbook secret rotated`, the API), runbook (a successful run of its rotation
    procedure, `run_id`), command or file (read from the configured `last_rotated`)."""

    __tablename__ = "secret_rotations"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    secret: Mapped[str] = mapped_column(String(64))
    rotated_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(100), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    run_id: Mapped[int | None] = mapped_column(BigId)
    recorded_at: Mapped[datetime]

    __table_args__ = (Index("ix_secret_rotations_secret_at", "secret", "rotated_at"),)


class CompromiseRow(Base):
    """A suspected compromise: the emergency rotation it calls for, its incident, when it was rotated."""

    __tablename__ = "secret_compromises"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    secret: Mapped[str] = mapped_column(String(64), index=True)
    reported_at: Mapped[datetime]
    reported_by: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text, default="")
    due_at: Mapped[datetime]
    incident_id: Mapped[int | None] = mapped_column(BigId)
    alert_id: Mapped[int | None] = mapped_column(BigId)
    rotated_at: Mapped[datetime | None]
