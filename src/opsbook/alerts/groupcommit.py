"""Group commit of external events: the events of concurrent requests applied together, in one transaction.

    committer = GroupCommit(runtime, hooks)        # hook(session, transitions, now), e.g. Pipeline.run_hooks
    transitions = await committer.submit(events)   # answered once its events are committed

The first request starts a drain; requests arriving while a transaction is open wait for the next one,
which takes them all (up to `max_events`). A transaction reads and locks the open alerts of all its
events with one query, applies every event through the state machine (`alerts.external`), hands all
transitions to the hooks in that same transaction, and commits. If it fails, its requests are applied
one by one, so one bad event fails only its own request.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError

from opsbook.alerts.external import ExternalEvent, apply_external, lock_open_alerts
from opsbook.alerts.types import AlertHook, AlertTransition
from opsbook.runtime import Runtime

Waiting = tuple[Sequence[ExternalEvent], asyncio.Future[list[AlertTransition]]]


class GroupCommit:
    """Applies external events in as few transactions as the load allows; each request waits for its own."""

    def __init__(
        self, runtime: Runtime, hooks: Sequence[AlertHook] = (), max_events: int = 1000, attempts: int = 3
    ) -> None:
        self.runtime = runtime
        self.hooks = hooks
        self.max_events = max_events
        self.attempts = attempts
        self._waiting: deque[Waiting] = deque()
        self._drainer: asyncio.Task[None] | None = None

    async def submit(self, events: Sequence[ExternalEvent]) -> list[AlertTransition]:
        """Apply these events (in a transaction shared with other requests'); their transitions."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[AlertTransition]] = loop.create_future()
        self._waiting.append((events, future))
        if self._drainer is None:
            self._drainer = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch = [self._waiting.popleft()]
                size = len(batch[0][0])
                while self._waiting and size + len(self._waiting[0][0]) <= self.max_events:
                    batch.append(self._waiting.popleft())
                    size += len(batch[-1][0])
                await self._commit(batch)
        finally:
            self._drainer = None

    async def _commit(self, batch: list[Waiting]) -> None:
        try:
            results = await asyncio.to_thread(self.apply, [events for events, _ in batch])
        except Exception as exc:
            if len(batch) == 1:
                if not batch[0][1].done():
                    batch[0][1].set_exception(exc)
                return
            for item in batch:  # isolate the request that broke the transaction
                await self._commit([item])
            return
        for (_, future), transitions in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(transitions)

    def apply(self, groups: Sequence[Sequence[ExternalEvent]]) -> list[list[AlertTransition]]:
        """Apply several requests' events in one transaction, run the hooks, commit (blocking); the
        transitions come back per request. Retried if a concurrent trigger of the same new dedup key won
        the race (the retry then finds its alert and deduplicates)."""
        for attempt in range(self.attempts):
            try:
                with self.runtime.sessions.begin() as session:
                    now = self.runtime.clock.now()
                    open_rows = lock_open_alerts(session, [e.open_key for events in groups for e in events])
                    with session.no_autoflush:
                        per_group = [
                            [t for event in events for t in apply_external(session, event, now, open_rows)]
                            for events in groups
                        ]
                    every = [t for group in per_group for t in group]
                    for hook in self.hooks:
                        hook(session, every, now)
                    return per_group
            except IntegrityError:
                if attempt == self.attempts - 1:
                    raise
        return [[] for _ in groups]
