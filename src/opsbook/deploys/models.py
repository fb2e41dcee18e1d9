"""Tables of the deploys domain: every deploy or change (its record), who holds a service+environment
while a deploy runs, and freezes declared by hand (`opsbook deploy freeze`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opsbook.db.base import Base
from opsbook.db.types import BigId, Json

RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
ROLLED_BACK = "rolled_back"
INTERRUPTED = "interrupted"
STATUSES = (RUNNING, SUCCEEDED, FAILED, ROLLED_BACK, INTERRUPTED)
DONE = (SUCCEEDED, FAILED, ROLLED_BACK, INTERRUPTED)

DEPLOY = "deploy"  # run by `opsbook deploy`
ROLLBACK = "rollback"  # run by `opsbook deploy rollback`
CHANGE = "change"  # recorded: CI, POST /api/v1/deploys, a PagerDuty change event
KINDS = (DEPLOY, ROLLBACK, CHANGE)


class DeployRow(Base):
    """One deploy, rollback or change made elsewhere: who, what, when, how it went and why."""

    __tablename__ = "deploys"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    service: Mapped[str] = mapped_column(String(64))
    env: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(200))
    previous_version: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(16), index=True)
    source: Mapped[str] = mapped_column(String(20))  # cli | api | pagerduty
    actor: Mapped[str] = mapped_column(String(100))
    forced: Mapped[bool] = mapped_column(Boolean, default=False)
    force_reason: Mapped[str] = mapped_column(Text, default="")
    commit: Mapped[str | None] = mapped_column(String(100))
    committed_at: Mapped[datetime | None]
    summary: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]  # the walk is alive (an old one is interrupted)
    pid: Mapped[int | None] = mapped_column(Integer)
    host: Mapped[str | None] = mapped_column(String(200))
    checklist: Mapped[list[dict[str, Any]]] = mapped_column(Json, default=list)
    output: Mapped[str] = mapped_column(Text, default="")
    verdict: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    rollback_version: Mapped[str | None] = mapped_column(String(200))  # rolled back to
    regression_at: Mapped[datetime | None]
    restored_at: Mapped[datetime | None]
    restore_seconds: Mapped[float | None] = mapped_column(Float)
    incident_id: Mapped[int | None] = mapped_column(BigId)
    detail: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)

    __table_args__ = (
        Index("ix_deploys_service_env_started", "service", "env", "started_at"),
        Index("ix_deploys_started", "started_at"),
    )


class DeployLockRow(Base):
    """A service+environment held by a running deploy: a second one is refused, told who holds it."""

    __tablename__ = "deploy_locks"
    service: Mapped[str] = mapped_column(String(64), primary_key=True)
    env: Mapped[str] = mapped_column(String(64), primary_key=True)
    deploy_id: Mapped[int] = mapped_column(BigId)
    holder: Mapped[str] = mapped_column(String(100))
    acquired_at: Mapped[datetime]


class FreezeRow(Base):
    """A freeze declared by hand: deploys of the service are refused until `ends_at` (or lifted)."""

    __tablename__ = "deploy_freezes"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    service: Mapped[str] = mapped_column(String(64))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime] = mapped_column(index=True)
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    lifted_at: Mapped[datetime | None]
    lifted_by: Mapped[str | None] = mapped_column(String(100))
