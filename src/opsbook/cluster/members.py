"""The processes of a cluster in `cluster_members`: joining, beating, leaving, and who is alive.

A member's times are the database's (`now()`), so processes on several machines need not agree on the
clock. A member whose last beat is older than the lease is gone: it died (no `stopped_at`) or stopped.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, update
from sqlalchemy.orm import Session, sessionmaker

from opsbook import __version__
from opsbook.cluster.identity import ProcessIdentity
from opsbook.cluster.models import ClusterMemberRow


def join(sessions: sessionmaker[Session], me: ProcessIdentity) -> None:
    """Record this process as a member (a new row per start)."""
    with sessions.begin() as session:
        session.add(ClusterMemberRow(
            id=me.member_id, name=me.name[:100], host=me.host[:255], pid=me.pid, roles=me.roles_text,
            location=me.location, version=__version__[:40], started_at=func.now(), heartbeat_at=func.now(),
            duties="",
        ))


def beat(sessions: sessionmaker[Session], me: ProcessIdentity, duties: frozenset[str],
         lag_s: float | None) -> None:
    """The heartbeat: alive now, holding these duties, the scheduler this far behind at worst."""
    with sessions.begin() as session:
        done = session.execute(
            update(ClusterMemberRow).where(ClusterMemberRow.id == me.member_id)
            .values(heartbeat_at=func.now(), duties=",".join(sorted(duties)), lag_s=lag_s, stopped_at=None)
        )
    if getattr(done, "rowcount", 1) == 0:  # the row was pruned while this process was stalled
        join(sessions, me)


def leave(sessions: sessionmaker[Session], me: ProcessIdentity) -> None:
    """A clean stop."""
    with sessions.begin() as session:
        session.execute(
            update(ClusterMemberRow).where(ClusterMemberRow.id == me.member_id)
            .values(stopped_at=func.now(), duties="")
        )


GONE_KEPT = timedelta(days=1)
"""Members gone longer than this are no longer listed (their rows are pruned by the next joiner)."""


def prune(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        session.execute(
            delete(ClusterMemberRow).where(ClusterMemberRow.heartbeat_at < func.now() - GONE_KEPT)
        )
