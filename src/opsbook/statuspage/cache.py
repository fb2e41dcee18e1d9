"""Keeps the rendered status page in memory so a crowd of readers costs the checks nothing, and never
serves a page older than the last committed change that it shows.

The cache subscribes to the domain events of what the page shows: incidents, maintenance windows, and
state changes of public checks (`opsbook.events`). Every such event, committed by this process or
(through the change feed) by another one, moves the cache's change count. A reader first lets the feed
read the change counters (one small query shared by every reader arriving meanwhile), then gets the
snapshot: rebuilt first if a change arrived since it was built (the reader waits for it: one build at a
time, off the event loop), else the one in memory. Age alone (`status_page.refresh`: uptime figures
drift with time) rebuilds in the background while readers get the previous one.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from datetime import datetime

from opsbook.events import DomainEvent, Event, Topic
from opsbook.runtime import Runtime
from opsbook.statuspage.build import build_snapshot
from opsbook.statuspage.render import Rendered, render

log = logging.getLogger(__name__)

SHOWN = (Topic.INCIDENTS, Topic.MUTES, Topic.CHECKS)


class StatusCache:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.public_checks = {
            f"{s.name}/{c.name}" for s in runtime.config.services if s.public for c in s.checks
        }
        self.rendered: Rendered | None = None
        self.builds = 0
        self._built_at: datetime | None = None
        self._changes = 0  # committed changes of what the page shows, seen so far
        self._built_from = -1  # the change count the snapshot in memory includes
        self._count_lock = threading.Lock()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] = runtime.bus.subscribe(SHOWN, self.on_event)

    def close(self) -> None:
        self._unsubscribe()

    def on_event(self, event: Event) -> None:
        """A committed change (any thread): count it if the page shows it."""
        if event.topic is Topic.CHECKS and isinstance(event, DomainEvent):
            changed = event.detail.get("check_ids") or []
            if not any(check_id in self.public_checks for check_id in changed):
                return  # a private check: nothing shown changed
        with self._count_lock:
            self._changes += 1

    def _outdated(self) -> bool:
        return self.rendered is None or self._built_from < self._changes

    def _old(self) -> bool:
        if self._built_at is None:
            return True
        return self.runtime.clock.now() - self._built_at >= self.runtime.config.status_page.refresh

    async def get(self) -> Rendered:
        await self.runtime.feed.refresh()  # changes other processes committed count too
        if self._outdated():
            return await self.rebuild()
        if self._old() and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._rebuild_quietly())
        assert self.rendered is not None
        return self.rendered

    async def _rebuild_quietly(self) -> None:
        try:
            await self.rebuild(force=True)
        except Exception:
            log.exception("rebuilding the status page failed; serving the previous one")

    async def rebuild(self, *, force: bool = False) -> Rendered:
        """Build a snapshot that includes every change counted so far (unless one already does)."""
        async with self._lock:
            if self.rendered is not None and not self._outdated() and not (force and self._old()):
                return self.rendered  # someone else rebuilt it while we waited
            with self._count_lock:
                target = self._changes
            now = self.runtime.clock.now()
            try:
                self.rendered = await asyncio.to_thread(self._build, now)
            except Exception:
                if self.rendered is None:
                    raise
                log.exception("rebuilding the status page failed; serving the previous one")
                return self.rendered
            self._built_from = target
            self._built_at = now
            self.builds += 1
            return self.rendered

    def _build(self, now: datetime) -> Rendered:
        with self.runtime.sessions() as session:
            snapshot = build_snapshot(session, self.runtime.config, now, self.builds + 1)
        return render(snapshot, self.runtime.config)
