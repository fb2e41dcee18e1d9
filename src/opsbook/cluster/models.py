"""Tables of the cluster: the processes sharing one PostgreSQL database, and who runs which checks.

`cluster_members` has a row per process that ever started (`opsbook serve`, `opsbook worker`): its
identity, roles and location, and its heartbeat, so a process that stopped beating is shown as gone.
`check_leases` has a row per partition of the checks: the member that runs that partition's checks,
until `expires_at` unless renewed (see opsbook.cluster.leases); a partition of a location's pool (checks
probed from several locations) is run by that location's workers only.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opsbook.db.base import Base


class ClusterMemberRow(Base):
    __tablename__ = "cluster_members"
    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    roles: Mapped[str] = mapped_column(String(100))  # comma-separated: api, worker
    location: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime] = mapped_column(index=True)
    stopped_at: Mapped[datetime | None]  # a clean stop; a process that died has none
    duties: Mapped[str] = mapped_column(Text, default="")  # the singleton duties held at the last beat
    lag_s: Mapped[float | None] = mapped_column(Float)  # the scheduler's worst lag since the last beat


class CheckLeaseRow(Base):
    __tablename__ = "check_leases"
    partition: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    location: Mapped[str | None] = mapped_column(String(64))  # the pool of a location's probes; None: all
    holder: Mapped[str | None] = mapped_column(String(100), index=True)
    expires_at: Mapped[datetime | None]
    acquired_at: Mapped[datetime | None]
