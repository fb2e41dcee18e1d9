"""Check leases in PostgreSQL: which worker runs which partition of the checks, with a fair share each.

Every `lease / 3` a worker runs one round (`LeaseKeeper.round`), on the database's clock (`now()`), so
workers on several machines need not agree on the time:

1. It renews the leases it holds (`expires_at = now() + lease`); one taken by another worker meanwhile
   (its own expired while it was stalled) is not renewed and is dropped here.
2. It counts the live workers (cluster_members beating within `lease`) and its fair share,
   `ceil(partitions / live)`. Holding more than that (a worker joined), it stops running the excess
   first and then releases it; holding less, it claims free or expired partitions with
   `SELECT … FOR UPDATE SKIP LOCKED`, so two claimers never take the same row.

A keeper leases one pool of partitions (opsbook.cluster.partitions.lease_pools): the checks without
locations are shared by every worker; each location's probes by the live workers of that location, whose
own keeper for that pool counts only them.

A worker that cannot renew stops running its checks once `lease` has passed on its own clock since its
last successful round: by then another may hold them. So a dead worker's checks move within
`lease + lease / 3` and a partition is never run by two live workers for longer than one check run.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from opsbook.clock import Clock
from opsbook.cluster.models import CheckLeaseRow, ClusterMemberRow

log = logging.getLogger(__name__)

Assign = Callable[[frozenset[int]], None]
"""Told the partitions this process runs from now on (called on the event loop)."""


@dataclass
class LeaseState:
    """What this process holds, and until when it may trust that without a successful round."""

    held: frozenset[int] = frozenset()
    valid_until: datetime | None = None
    rounds: int = 0
    statements: int = 0  # database statements run for leases and the heartbeat (the coordination cost)
    failures: int = 0
    live_workers: int = 0


def live_since(lease: timedelta) -> ColumnElement[datetime]:
    """The SQL expression of the oldest heartbeat that still counts as alive."""
    return func.now() - lease


class LeaseKeeper:
    """One worker's leases (rounds run in a thread: blocking I/O)."""

    def __init__(self, sessions: sessionmaker[Session], member_id: str, lease: timedelta, partitions: int,
                 clock: Clock, first: int = 0, location: str | None = None) -> None:
        self.sessions = sessions
        self.member_id = member_id
        self.lease = lease
        self.partitions = partitions
        self.first = first  # this keeper's pool: partitions first … first + partitions - 1
        self.location = location  # a location's pool is shared by its workers only (None: by all)
        self.clock = clock
        self.state = LeaseState()

    @property
    def every(self) -> timedelta:
        return self.lease / 3

    def ensure_rows(self) -> None:
        """A row per partition in use (made once, by whoever comes first)."""
        with self.sessions.begin() as session:
            rows = [{"partition": p, "location": self.location} for p in self._numbers]
            session.execute(insert(CheckLeaseRow).values(rows).on_conflict_do_nothing())

    @property
    def _numbers(self) -> range:
        return range(self.first, self.first + self.partitions)

    def _in_pool(self) -> ColumnElement[bool]:
        return CheckLeaseRow.partition.between(self.first, self.first + self.partitions - 1)

    def renew(self) -> tuple[frozenset[int], int]:
        """Step 1 and the head count: the partitions still held, and this worker's fair share."""
        started = self.clock.now()
        with self.sessions.begin() as session:
            kept = session.scalars(
                update(CheckLeaseRow)
                .where(CheckLeaseRow.holder == self.member_id, self._in_pool())
                .values(expires_at=func.now() + self.lease)
                .returning(CheckLeaseRow.partition)
            ).all()
            alive = [ClusterMemberRow.roles.contains("worker"), ClusterMemberRow.stopped_at.is_(None),
                     ClusterMemberRow.heartbeat_at > live_since(self.lease)]
            if self.location is not None:
                alive.append(ClusterMemberRow.location == self.location)
            live = session.scalar(select(func.count()).select_from(ClusterMemberRow).where(*alive)) or 0
        self.state.statements += 2
        self.state.live_workers = max(1, int(live))
        self.state.valid_until = started + self.lease
        return frozenset(kept), math.ceil(self.partitions / self.state.live_workers)

    def release(self, partitions: frozenset[int]) -> None:
        """Give partitions back (after this process stopped running them)."""
        if not partitions:
            return
        with self.sessions.begin() as session:
            session.execute(
                update(CheckLeaseRow)
                .where(CheckLeaseRow.holder == self.member_id,
                       CheckLeaseRow.partition.in_(sorted(partitions)))
                .values(holder=None, expires_at=None, acquired_at=None)
            )
        self.state.statements += 1

    def claim(self, wanted: int) -> frozenset[int]:
        """Up to `wanted` free or expired partitions, taken for this worker (none taken twice)."""
        if wanted <= 0:
            return frozenset()
        with self.sessions.begin() as session:
            free = session.scalars(
                select(CheckLeaseRow.partition)
                .where(self._in_pool(), or_(
                    CheckLeaseRow.holder.is_(None), CheckLeaseRow.expires_at.is_(None),
                    CheckLeaseRow.expires_at < func.now(),
                ))
                .order_by(CheckLeaseRow.partition)
                .limit(wanted)
                .with_for_update(skip_locked=True)
            ).all()
            if free:
                session.execute(
                    update(CheckLeaseRow).where(CheckLeaseRow.partition.in_(free)).values(
                        holder=self.member_id, expires_at=func.now() + self.lease, acquired_at=func.now()
                    )
                )
        self.state.statements += 2 if free else 1
        return frozenset(free)

    def release_all(self) -> None:
        """A clean stop: every partition of the pool back at once, for the others' next round."""
        with self.sessions.begin() as session:
            session.execute(
                update(CheckLeaseRow).where(CheckLeaseRow.holder == self.member_id, self._in_pool())
                .values(holder=None, expires_at=None, acquired_at=None)
            )
        self.state.held = frozenset()

    def expired_locally(self, now: datetime) -> bool:
        """No successful round for a whole lease: another worker may hold these partitions now."""
        return self.state.valid_until is None or now >= self.state.valid_until
