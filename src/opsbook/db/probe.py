"""The write probe behind `/ready`: one row per process, rewritten to prove the store takes writes.

A database that answers `SELECT 1` may still refuse every write (a full disk, a read-only file, a
PostgreSQL in recovery); readiness means the writes the pipeline needs would succeed now.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime

from sqlalchemy import String, delete
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from opsbook.db.base import Base, UtcDateTime


class WriteProbeRow(Base):
    __tablename__ = "write_probes"

    node: Mapped[str] = mapped_column(String(200), primary_key=True)
    ts: Mapped[datetime] = mapped_column(UtcDateTime())


def node_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:200]


def probe_write(sessions: sessionmaker[Session], now: datetime) -> None:
    """Rewrite this process's probe row and commit; raises whatever the store raises."""
    node = node_name()
    with sessions.begin() as session:
        session.execute(delete(WriteProbeRow).where(WriteProbeRow.node == node))
        session.add(WriteProbeRow(node=node, ts=now))
