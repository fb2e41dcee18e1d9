"""Tables of the postgres domain: report snapshots, pg_stat_statements samples, maintenance runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from opsbook.db.base import Base
from opsbook.db.types import BigId, Json


class SnapshotRow(Base):
    """What one sample of a database found (the report's data), kept for `postgres.keep`."""

    __tablename__ = "pg_snapshots"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    check_id: Mapped[str] = mapped_column(String(140))
    ts: Mapped[datetime]
    data: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    statements: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)  # queryid → cumulative counters

    __table_args__ = (Index("ix_pg_snapshots_check_ts", "check_id", "ts"),)


class MaintenanceRunRow(Base):
    """One scheduled firing of a maintenance task: run (ok or failed) or missed (its window passed)."""

    __tablename__ = "pg_maintenance_runs"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    task: Mapped[str] = mapped_column(String(64))
    scheduled_for: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    duration_s: Mapped[float | None] = mapped_column(Float)
    outcome: Mapped[str] = mapped_column(String(10))  # ok | failed | missed
    error: Mapped[str] = mapped_column(Text, default="")
    oplog_id: Mapped[int | None] = mapped_column(BigId)

    __table_args__ = (
        UniqueConstraint("task", "scheduled_for", name="uq_pg_maintenance_runs_task_scheduled"),
    )
