"""Tables of the checks domain: raw results, rollups, each check's current state, state changes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, Index, Integer, LargeBinary, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opsbook.db.base import Base
from opsbook.db.types import BigId


class CheckKeyRow(Base):
    """The integer a check's results and rollups are stored under; its name is stored once, here."""

    __tablename__ = "check_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(140), unique=True)


class ResultRow(Base):
    """One run of one check, kept for `retention.raw`, in the compact form of `checks.compact`.

    No key of its own (rows are found by check and time through the one index); `message` is NULL when
    it is the same as the check's previous result's (see `checks.store`: stored when it changes, on
    the check's first result of each hour, and on a late result)."""

    __tablename__ = "check_results"
    check_key: Mapped[int] = mapped_column(Integer)
    ts: Mapped[int] = mapped_column(BigInteger)  # microseconds since the epoch, UTC
    status: Mapped[int] = mapped_column(SmallInteger)  # compact.STATUSES: 0 up, 1 degraded, 2 down
    latency_ms: Mapped[float | None] = mapped_column(Float)
    message: Mapped[str | None] = mapped_column(Text)
    values: Mapped[bytes | None] = mapped_column(LargeBinary)  # MessagePack map; NULL: none

    __table_args__ = (Index("ix_check_results_key_ts", "check_key", "ts"),)
    __mapper_args__ = {"primary_key": [check_key, ts]}  # for the mapper only: no such constraint


class RollupRow(Base):
    """A chunk of one check's rollup buckets at one resolution: the minutes of an hour (resolution 60) or
    the hours of a day (3600), packed by `checks.compact.pack_chunk`."""

    __tablename__ = "check_rollups"
    check_key: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    resolution: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    chunk: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)  # epoch s
    data: Mapped[bytes] = mapped_column(LargeBinary)


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
