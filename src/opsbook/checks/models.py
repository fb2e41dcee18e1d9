"""Tables of the checks domain: raw results, rollups, each check's current state, state changes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opsbook.db.base import Base
from opsbook.db.types import BigId, Json


class ResultRow(Base):
    """One run of one check, kept for `retention.raw`."""

    __tablename__ = "check_results"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    check_id: Mapped[str] = mapped_column(String(140))
    ts: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(10))
    latency_ms: Mapped[float | None] = mapped_column(Float)
    message: Mapped[str] = mapped_column(Text, default="")
    values: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)

    __table_args__ = (
        Index("ix_check_results_check_ts", "check_id", "ts"),
        Index("ix_check_results_ts", "ts"),
    )


class RollupRow(Base):
    """Aggregate of a check's results over one minute (resolution 60) or one hour (3600)."""

    __tablename__ = "check_rollups"
    check_id: Mapped[str] = mapped_column(String(140), primary_key=True)
    resolution: Mapped[int] = mapped_column(Integer, primary_key=True)
    bucket: Mapped[datetime] = mapped_column(primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    degraded: Mapped[int] = mapped_column(Integer, default=0)
    latency_count: Mapped[int] = mapped_column(Integer, default=0)
    latency_sum: Mapped[float] = mapped_column(Float, default=0.0)
    latency_min: Mapped[float | None] = mapped_column(Float)
    latency_max: Mapped[float | None] = mapped_column(Float)
    histogram: Mapped[dict[str, int]] = mapped_column(Json, default=dict)  # sparse: bucket index -> count

    def latency_percentile(self, q: float) -> float | None:
        """The q-quantile (0..1) of latency in this bucket, from its histogram."""
        from opsbook.checks.histogram import dense, percentile

        return percentile(dense(self.histogram), q, self.latency_min, self.latency_max)

    __table_args__ = (Index("ix_check_rollups_res_bucket", "resolution", "bucket"),)


class CheckStateRow(Base):
    """The latest known state of one check; heartbeat checks also keep their ping token and times here."""

    __tablename__ = "check_states"
    check_id: Mapped[str] = mapped_column(String(140), primary_key=True)
    created_at: Mapped[datetime | None]
    status: Mapped[str | None] = mapped_column(String(10))
    since: Mapped[datetime | None]
    last_ts: Mapped[datetime | None]
    last_latency_ms: Mapped[float | None] = mapped_column(Float)
    last_message: Mapped[str] = mapped_column(Text, default="")
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    ping_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    last_ping_at: Mapped[datetime | None]
    last_start_at: Mapped[datetime | None]


class StateChangeRow(Base):
    """A check moved between up/degraded/down; kept for `retention.state_changes` so uptime stays exact."""

    __tablename__ = "check_state_changes"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    check_id: Mapped[str] = mapped_column(String(140))
    ts: Mapped[datetime]
    from_status: Mapped[str | None] = mapped_column(String(10))
    to_status: Mapped[str] = mapped_column(String(10))
    message: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_check_state_changes_check_ts", "check_id", "ts"),)


class PingRow(Base):
    """A ping a heartbeat check received (start, success, fail, exit code, or a log message that changes no
    state), with the text the job sent; the newest `heartbeat_watch.KEEP_PINGS` per check are kept."""

    __tablename__ = "heartbeat_pings"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    check_id: Mapped[str] = mapped_column(String(140))
    ts: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(10))  # start | success | fail | exit | log
    exit_code: Mapped[int | None] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_heartbeat_pings_check_ts", "check_id", "ts"),)


class MetaRow(Base):
    """Small named values the program keeps for itself (e.g. how far rollups have got)."""

    __tablename__ = "opsbook_meta"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
