"""Tables of the backups domain: the backups opsbook learned of, each job's watch state, restore drills."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from opsbook.db.base import Base
from opsbook.db.types import BigId, Json


class BackupRow(Base):
    """One backup: when it finished, whether it is good, how long it took and how big it is.

    `source` is heartbeat (the job pinged), list (the job's list command showed it) or manual (API).
    A listed backup has its `ident` (unique per job) and `present` says whether the latest listing still
    showed it (retention is judged on the present ones)."""

    __tablename__ = "backups"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(64))
    ts: Mapped[datetime]
    ok: Mapped[bool] = mapped_column(Boolean, default=True)
    duration_s: Mapped[float | None] = mapped_column(Float)
    size_bytes: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(20))
    ident: Mapped[str | None] = mapped_column(String(300))
    present: Mapped[bool] = mapped_column(Boolean, default=True)
    message: Mapped[str] = mapped_column(Text, default="")
    recorded_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_backups_job_ts", "job", "ts"),
        UniqueConstraint("job", "ident", name="uq_backups_job_ident"),
    )


class BackupJobRow(Base):
    """What opsbook keeps of a job between runs: since when it watches it, its last listing."""

    __tablename__ = "backup_jobs"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    watched_since: Mapped[datetime]
    listed_at: Mapped[datetime | None]
    list_error: Mapped[str] = mapped_column(Text, default="")


class DrillRow(Base):
    """One restore drill: what was restored where, the smoke queries, the measured RTO, the output."""

    __tablename__ = "backup_drills"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    ok: Mapped[bool] = mapped_column(Boolean)
    rto_s: Mapped[float | None] = mapped_column(Float)
    rto_target_s: Mapped[float | None] = mapped_column(Float)
    restored: Mapped[str] = mapped_column(Text, default="")  # the dump file or what the command restored
    scratch: Mapped[str] = mapped_column(String(100), default="")
    scratch_dropped: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str] = mapped_column(Text, default="")
    output: Mapped[str] = mapped_column(Text, default="")
    steps: Mapped[list[dict[str, Any]]] = mapped_column(Json, default=list)
    trigger: Mapped[str] = mapped_column(String(20))  # schedule | manual
    operator: Mapped[str] = mapped_column(String(100))
    oplog_id: Mapped[int | None] = mapped_column(BigId)

    __table_args__ = (Index("ix_backup_drills_job_started", "job", "started_at"),)
