"""This process as a member of the cluster: its heartbeat, and (a worker) the checks it runs.

`ClusterNode` joins `cluster_members` at start, then every `lease / 3` beats (with the duties it holds
and its scheduler's lag) and, as a worker, runs a lease round (opsbook.cluster.leases) for each pool it
takes part in (the checks without locations; with `--location`, that location's probes too), telling
its listeners the checks (probe units: opsbook.locations.units) it runs from now on. It stops running
them when it loses them, including when it cannot reach the database for a whole lease. A clean stop
gives every partition back at once.

On SQLite there is one process and no cluster: `owned` is None (every check is this process's), nothing
is written, and `start` does nothing.

    node = ClusterNode(runtime, identity, checks=runtime.config.checks(), duties=lambda: locks.held)
    node.listeners.append(scheduler.assign)   # frozenset of check ids, or None for all
    await node.start(); ...; await node.stop()
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from opsbook.cluster import members
from opsbook.cluster.identity import ProcessIdentity
from opsbook.cluster.leases import LeaseKeeper
from opsbook.cluster.partitions import checks_in, lease_pools
from opsbook.loops import Loop, Supervisor
from opsbook.runtime import Runtime

log = logging.getLogger(__name__)

Listener = Callable[[frozenset[str] | None], None]


class ClusterNode:
    def __init__(
        self,
        runtime: Runtime,
        identity: ProcessIdentity,
        checks: Mapping[str, Any],
        duties: Callable[[], frozenset[str]] = frozenset,
        supervisor: Supervisor | None = None,
    ) -> None:
        self.runtime = runtime
        self.identity = identity
        self.shared = runtime.engine.dialect.name == "postgresql"
        settings = runtime.config.cluster
        pools = [p for p in lease_pools(checks, settings.partitions)  # its location's probes, and the rest
                 if p.location is None or p.location == identity.location]
        self.by_check = {unit: part for pool in pools for unit, part in pool.units.items()}
        self.keepers = [
            LeaseKeeper(runtime.sessions, identity.member_id, settings.lease, pool.count, runtime.clock,
                        first=pool.first, location=pool.location)
            for pool in pools
        ]
        self.keeper = self.keepers[0]  # the checks without locations
        self.duties = duties
        self.listeners: list[Listener] = []
        self.owned: frozenset[str] | None = None if not self.shared or not identity.works else frozenset()
        self._worst_lag: float | None = None
        self.loop = Loop(  # a failing round is retried every renewal period, not after a long backoff
            "cluster", self._step, runtime.clock, supervisor=supervisor, backoff_max=self.keeper.every
        )
        self._joined = False

    # --- what the scheduler reports -----------------------------------------------------------------

    def note_lag(self, seconds: float) -> None:
        self._worst_lag = seconds if self._worst_lag is None else max(self._worst_lag, seconds)

    # --- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        if not self.shared:
            return
        await asyncio.to_thread(self._join)
        self._joined = True
        self._tell(self.owned)
        self.loop.start()

    def _join(self) -> None:
        members.prune(self.runtime.sessions)
        members.join(self.runtime.sessions, self.identity)
        if self.identity.works:
            for keeper in self.keepers:
                keeper.ensure_rows()

    async def stop(self) -> None:
        if not self._joined:
            return
        await self.loop.stop()
        self._set(frozenset() if self.identity.works else None)
        await asyncio.to_thread(self._leave)
        self._joined = False

    def _leave(self) -> None:
        try:
            if self.identity.works:
                for keeper in self.keepers:
                    keeper.release_all()
            members.leave(self.runtime.sessions, self.identity)
        except Exception:  # the database is gone: the leases expire on their own
            log.warning("could not leave the cluster cleanly", exc_info=True)

    # --- the round ----------------------------------------------------------------------------------

    async def _step(self) -> datetime:
        clock = self.runtime.clock
        started = clock.now()
        valid_until = min((k.state.valid_until for k in self.keepers if k.state.valid_until), default=None)
        try:
            if self.identity.works and valid_until is not None and valid_until > started:
                # a round hung on the network must not keep this worker running checks past its lease
                await clock.wait_for(self._round(), (valid_until - started).total_seconds())
            else:
                await self._round()
        except Exception:
            if self.identity.works and any(k.expired_locally(self.runtime.clock.now()) for k in self.keepers):
                self._set(frozenset())  # another worker may hold them by now
            raise
        return started + self.keeper.every

    async def _round(self) -> None:
        lag, self._worst_lag = self._worst_lag, None
        await asyncio.to_thread(members.beat, self.runtime.sessions, self.identity, self.duties(), lag)
        if not self.identity.works:
            return
        for keeper in self.keepers:  # one pool after the other
            kept, share = await asyncio.to_thread(keeper.renew)
            excess = frozenset(sorted(kept)[share:])
            keeper.state.held = kept - excess
            self._set_partitions(self._held())  # stop running the excess before giving it back
            await asyncio.to_thread(keeper.release, excess)
            gained = await asyncio.to_thread(keeper.claim, share - len(keeper.state.held))
            if gained:
                keeper.state.held |= gained
                self._set_partitions(self._held())
            keeper.state.rounds += 1

    def _held(self) -> frozenset[int]:
        return frozenset().union(*(k.state.held for k in self.keepers))

    def _set_partitions(self, partitions: frozenset[int]) -> None:
        self._set(checks_in(partitions, self.by_check))

    def _set(self, owned: frozenset[str] | None) -> None:
        if owned == self.owned:
            return
        before = self.owned
        self.owned = owned
        if owned is not None and before is not None and len(owned) != len(before):
            log.info("this worker now runs %d checks (was %d)", len(owned), len(before))
        self._tell(owned)

    def _tell(self, owned: frozenset[str] | None) -> None:
        for listener in self.listeners:
            listener(owned)
