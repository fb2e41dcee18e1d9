"""What `opsbook cluster status`, the API and the /ui/cluster panel show: every process of the cluster,
alive or gone, with its roles, the check leases and singleton duties it holds, its last heartbeat and
its scheduler's lag; and the partitions nobody holds. All ages are measured on the database's clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from opsbook.cluster.leases import live_since
from opsbook.cluster.models import CheckLeaseRow, ClusterMemberRow
from opsbook.cluster.partitions import lease_pools
from opsbook.runtime import Runtime


@dataclass(frozen=True)
class MemberStatus:
    id: str
    name: str
    host: str
    pid: int
    roles: list[str]
    location: str | None
    version: str
    started_at: datetime
    heartbeat_at: datetime
    heartbeat_age_s: float
    state: str  # alive | gone (stopped cleanly) | lost (stopped beating: died or cut off)
    leases: int  # partitions held and still valid
    leases_expired: int  # partitions it held when it stopped beating, not yet taken over
    duties: list[str]
    lag_s: float | None


@dataclass(frozen=True)
class ClusterStatus:
    shared: bool  # PostgreSQL (a cluster is possible); False: SQLite, one process
    members: list[MemberStatus]
    partitions: int  # partitions in use
    unheld: int  # partitions no live worker holds now


def cluster_status(runtime: Runtime) -> ClusterStatus:
    if runtime.engine.dialect.name != "postgresql":
        return ClusterStatus(False, [], 0, 0)
    lease = runtime.config.cluster.lease
    with runtime.sessions() as session:
        held = _leases(session)
        rows = session.execute(
            select(ClusterMemberRow, func.extract("epoch", func.now() - ClusterMemberRow.heartbeat_at),
                   ClusterMemberRow.heartbeat_at > live_since(lease))
            .order_by(ClusterMemberRow.started_at)
        ).all()
        partitions, unheld = session.execute(select(
            func.count(),
            func.count(case((CheckLeaseRow.expires_at.is_(None) | (CheckLeaseRow.expires_at < func.now()),
                             1))),
        ).select_from(CheckLeaseRow).where(CheckLeaseRow.partition.in_(_in_use(runtime)))).one()
    members = []
    for row, age, beating in rows:
        state = "gone" if row.stopped_at is not None else ("alive" if beating else "lost")
        valid, expired = held.get(row.id, (0, 0))
        members.append(MemberStatus(
            row.id, row.name, row.host, row.pid, [r for r in row.roles.split(",") if r], row.location,
            row.version, row.started_at, row.heartbeat_at, float(age or 0), state, valid, expired,
            [d for d in row.duties.split(",") if d] if state == "alive" else [], row.lag_s,
        ))
    return ClusterStatus(True, members, int(partitions), int(unheld))


def _leases(session: Session) -> dict[str, tuple[int, int]]:
    valid = case((CheckLeaseRow.expires_at >= func.now(), 1))
    rows = session.execute(
        select(CheckLeaseRow.holder, func.count(valid), func.count() - func.count(valid))
        .where(CheckLeaseRow.holder.is_not(None)).group_by(CheckLeaseRow.holder)
    ).all()
    return {str(holder): (int(ok), int(old)) for holder, ok, old in rows}


def _in_use(runtime: Runtime) -> list[int]:
    """The partition numbers of every pool (the checks without locations, and each location's)."""
    pools = lease_pools(runtime.config.checks(), runtime.config.cluster.partitions)
    return [n for pool in pools for n in range(pool.first, pool.first + pool.count)]
