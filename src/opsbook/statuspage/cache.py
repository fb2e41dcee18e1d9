"""Keeps the rendered status page in memory so a crowd of readers costs the checks nothing.

Readers always get the last rendered snapshot at once. It is rebuilt (one build at a time, off the event
loop) when a public check changes state, when asked to (`invalidate`), or once it is older than
`status_page.refresh`; readers arriving meanwhile get the previous one. Only the very first reader waits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime

from opsbook.checks.result import StoredResult
from opsbook.checks.store import BatchOutcome
from opsbook.runtime import Runtime
from opsbook.statuspage.build import build_snapshot
from opsbook.statuspage.render import Rendered, render

log = logging.getLogger(__name__)


class StatusCache:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.public_checks = {
            f"{s.name}/{c.name}" for s in runtime.config.services if s.public for c in s.checks
        }
        self.rendered: Rendered | None = None
        self.builds = 0
        self._built_at: datetime | None = None
        self._dirty = False
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    def invalidate(self) -> None:
        """Something shown changed (an incident update, a maintenance window): rebuild on next read."""
        self._dirty = True

    def on_batch(self, _batch: Sequence[StoredResult], outcome: BatchOutcome) -> None:
        """The result writer's after-commit hook: a public check changed state."""
        if any(change.check_id in self.public_checks for change in outcome.changes):
            self._dirty = True

    def _stale(self) -> bool:
        if self._dirty or self._built_at is None:
            return True
        return self.runtime.clock.now() - self._built_at >= self.runtime.config.status_page.refresh

    async def get(self) -> Rendered:
        if self.rendered is None:
            await self.rebuild()
        elif self._stale() and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._rebuild_quietly())
        assert self.rendered is not None
        return self.rendered

    async def _rebuild_quietly(self) -> None:
        try:
            await self.rebuild()
        except Exception:
            log.exception("rebuilding the status page failed; serving the previous one")

    async def rebuild(self) -> Rendered:
        async with self._lock:
            if self.rendered is not None and not self._stale():
                return self.rendered  # someone else rebuilt it while we waited
            self._dirty = False
            now = self.runtime.clock.now()
            self.rendered = await asyncio.to_thread(self._build, now)
            self._built_at = now
            self.builds += 1
            return self.rendered

    def _build(self, now: datetime) -> Rendered:
        with self.runtime.sessions() as session:
            snapshot = build_snapshot(session, self.runtime.config, now, self.builds + 1)
        return render(snapshot, self.runtime.config)
