"""Tables of the silences domain: silences and one-off maintenance windows (recurring ones live in config)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opsbook.db.base import Base
from opsbook.db.types import BigId, Json


class SilenceRow(Base):
    """Mutes notifications of alerts matching every matcher in [starts_at, min(ends_at, expired_at))."""

    __tablename__ = "silences"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    matchers: Mapped[list[dict[str, Any]]] = mapped_column(Json)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime] = mapped_column(index=True)
    created_by: Mapped[str] = mapped_column(String(100))
    comment: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    expired_at: Mapped[datetime | None]
    expired_by: Mapped[str | None] = mapped_column(String(100))


class MaintenanceRow(Base):
    """A one-off maintenance window of some services, shown on the status page, muting their alerts."""

    __tablename__ = "maintenance_windows"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    services: Mapped[list[str]] = mapped_column(Json)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime] = mapped_column(index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    cancelled_at: Mapped[datetime | None]
    cancelled_by: Mapped[str | None] = mapped_column(String(100))
