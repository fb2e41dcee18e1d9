"""Tables of the runbooks domain: a run of a procedure and the state of each of its steps.

A run keeps a snapshot of the procedure it runs, so it can be resumed (after the terminal was closed)
even if the Markdown file changed since, and its terminal session (the folder and the variables its steps
set, secrets left out: see session.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opsbook.db.base import Base
from opsbook.db.types import BigId, Json


class RunRow(Base):
    __tablename__ = "runbook_runs"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    runbook: Mapped[str] = mapped_column(String(300))
    runbook_title: Mapped[str] = mapped_column(String(300), default="")
    procedure_ref: Mapped[str] = mapped_column(String(400))
    procedure_title: Mapped[str] = mapped_column(String(400))
    procedure: Mapped[dict[str, Any]] = mapped_column(Json)
    params: Mapped[dict[str, str]] = mapped_column(Json, default=dict)
    operator: Mapped[str] = mapped_column(String(100))
    incident_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text, default="")
    impact: Mapped[str] = mapped_column(Text, default="")
    follow_up: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20))
    unattended: Mapped[bool] = mapped_column(Boolean, default=False)
    keep_going: Mapped[bool] = mapped_column(Boolean, default=False)
    session_state: Mapped[dict[str, Any] | None] = mapped_column(Json)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_runbook_runs_incident", "incident_id"),
        Index("ix_runbook_runs_started", "started_at"),
    )


class RunStepRow(Base):
    __tablename__ = "runbook_run_steps"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(BigId, ForeignKey("runbook_runs.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20))
    command: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="pending")
    exit_code: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    duration_s: Mapped[float | None] = mapped_column(Float)
    output: Mapped[str] = mapped_column(Text, default="")
    note: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(100), default="")

    __table_args__ = (Index("ix_runbook_run_steps_run_pos", "run_id", "position", unique=True),)
