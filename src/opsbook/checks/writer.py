"""Collects results from the scheduler and pings and writes them in batches, off the event loop.

A batch is written in one transaction together with whatever the hooks downstream decide from it
(alert transitions, outbox rows), so a crash never leaves results without their consequences. A
batch whose write fails is kept and retried; results are never dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

from sqlalchemy.orm import Session, sessionmaker

from opsbook.checks.result import StoredResult
from opsbook.checks.store import BatchOutcome, write_batch
from opsbook.clock import Clock

log = logging.getLogger(__name__)

AfterWrite = Callable[[Session, Sequence[StoredResult], BatchOutcome], None]


class ResultWriter:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        batch_size: int = 1000,
        flush_interval: float = 1.0,
        hooks: Sequence[AfterWrite] = (),
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.hooks = list(hooks)
        self.after_commit: list[Callable[[Sequence[StoredResult], BatchOutcome], None]] = []
        self.written = 0
        self._buffer: list[StoredResult] = []
        self._full = asyncio.Event()
        self._stopping = False
        self._lock = asyncio.Lock()

    def put(self, result: StoredResult) -> None:
        self._buffer.append(result)
        if len(self._buffer) >= self.batch_size:
            self._full.set()

    @property
    def pending(self) -> int:
        return len(self._buffer)

    async def flush(self) -> int:
        """Write everything buffered now; returns how many results were written."""
        async with self._lock:
            total = 0
            while self._buffer:
                batch = self._buffer[: self.batch_size]
                del self._buffer[: len(batch)]
                try:
                    outcome = await asyncio.to_thread(self._write, batch)
                except Exception:
                    log.exception("writing %d results failed; will retry", len(batch))
                    self._buffer[:0] = batch
                    break
                total += len(batch)
                self.written += len(batch)
                for callback in self.after_commit:
                    callback(batch, outcome)
            return total

    def _write(self, batch: Sequence[StoredResult]) -> BatchOutcome:
        with self.sessions.begin() as session:
            outcome = write_batch(session, batch)
            for hook in self.hooks:
                hook(session, batch, outcome)
        return outcome

    async def run(self) -> None:
        """Flush when a batch is full or `flush_interval` has passed, until `stop` (then flush once more).

        It is stopped, never cancelled, so a batch is never abandoned halfway through its transaction.
        """
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await self.clock.wait_for(self._full.wait(), self.flush_interval)
            self._full.clear()
            await self.flush()
        await self.flush()

    def stop(self) -> None:
        self._stopping = True
        self._full.set()
