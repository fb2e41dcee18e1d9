"""Tables of the capacity domain: the hour rollups of the measured values that are forecast."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from opsbook.db.base import Base


class ValueHourRow(Base):
    """One measured value of one check over one hour: count, sum, min and max of its samples."""

    __tablename__ = "capacity_value_hours"
    check_id: Mapped[str] = mapped_column(String(140), primary_key=True)
    field: Mapped[str] = mapped_column(String(200), primary_key=True)
    bucket: Mapped[datetime] = mapped_column(primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[float] = mapped_column(Float, default=0.0)
    low: Mapped[float] = mapped_column(Float)
    high: Mapped[float] = mapped_column(Float)

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0
