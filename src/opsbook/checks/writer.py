"""Collects results from the scheduler and pings and writes them in batches, off the event loop.

A batch's results are written in one transaction together with whatever the hooks downstream decide
from them (alert transitions, outbox rows), so a crash never leaves results without their consequences.
What the hooks do never decides whether results are stored:

- the hooks run in a savepoint; if they raise, the batch is split by check (halves, recursively, each
  in its own savepoint) until the checks whose evaluation fails are found. Every result is stored, the
  hooks' work for every other check is kept, and each failure is reported (`on_hook_failure`: logged
  with its traceback, counted, an alert on opsbook itself);
- if the database refuses the results themselves for a reason other than being unreachable (a value it
  cannot store), the batch is split the same way and only the refused results are set aside, reported;
- if the database is unreachable, the batch is kept and retried.

The buffer is bounded (`max_pending`). When the store has been away long enough to fill it, the oldest
results are dropped first (the newest carry each check's current state), counted in `dropped` and
reported through `on_drop`, never silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from opsbook.checks.result import StoredResult
from opsbook.checks.store import BatchOutcome, write_batch
from opsbook.clock import Clock
from opsbook.events import DomainEvent, Topic, emit

log = logging.getLogger(__name__)

Hook = Callable[[Session, Sequence[StoredResult], BatchOutcome], None]
Store = Callable[[Session, Sequence[StoredResult]], BatchOutcome]
"""Writes a batch in the given transaction: `checks.store.write_batch`, or one that adds to it (the
combined verdicts of checks probed from several locations: opsbook.locations.combine)."""
MAX_PENDING = 200_000
"""Results held while the store is away: about 5 minutes of 600 checks/s (see bench/README.md)."""


@dataclass(frozen=True)
class HookFailure:
    """The hooks raised for the results of one check (its results were stored all the same)."""

    check_id: str
    error: str
    results: int


@dataclass(frozen=True)
class Refused:
    """The store refused this result itself (not an outage): it is set aside, and reported."""

    result: StoredResult
    error: str


@dataclass
class Written:
    """What one batch's transaction did."""

    outcome: BatchOutcome
    stored: list[StoredResult] = field(default_factory=list)
    hook_failures: list[HookFailure] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)


class ResultWriter:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        batch_size: int = 1000,
        flush_interval: float = 1.0,
        hooks: Sequence[Hook] = (),
        max_pending: int = MAX_PENDING,
        store: Store = write_batch,
    ) -> None:
        self.sessions = sessions
        self.store = store
        self.clock = clock
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.hooks = list(hooks)
        self.max_pending = max(max_pending, batch_size)
        self.after_commit: list[Callable[[Written], None]] = []
        self.on_hook_failure: Callable[[list[HookFailure]], None] | None = None
        self.on_drop: Callable[[int], None] | None = None
        self.written = 0
        self.dropped = 0
        self.hook_failures = 0
        self._buffer: list[StoredResult] = []
        self._full = asyncio.Event()
        self._stopping = False
        self._lock = asyncio.Lock()

    def put(self, result: StoredResult) -> None:
        self._buffer.append(result)
        if len(self._buffer) >= self.batch_size:
            self._full.set()
        if len(self._buffer) > self.max_pending:
            self._drop_oldest()

    def _drop_oldest(self) -> None:
        excess = len(self._buffer) - self.max_pending
        if excess <= 0:
            return
        del self._buffer[:excess]
        self.dropped += excess
        log.error("the result buffer is full (%d): dropped the %d oldest results", self.max_pending, excess)
        if self.on_drop is not None:
            self.on_drop(excess)

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def oldest_pending(self) -> datetime | None:
        """When the oldest result not yet stored was taken (a writer stall shows as its age)."""
        return min((r.ts for r in self._buffer[:1]), default=None)

    async def flush(self) -> int:
        """Write everything buffered now; returns how many results were stored."""
        async with self._lock:
            total = 0
            while self._buffer:
                batch = self._buffer[: self.batch_size]
                del self._buffer[: len(batch)]
                try:
                    written = await asyncio.to_thread(self._write, batch)
                except Exception:
                    log.exception("writing %d results failed; will retry", len(batch))
                    self._buffer[:0] = batch
                    self._drop_oldest()
                    break
                total += len(written.stored)
                self.written += len(written.stored)
                self._report(written)
            return total

    def _report(self, written: Written) -> None:
        if written.refused:
            self.dropped += len(written.refused)
            for refused in written.refused:
                log.error("the store refused a result of %s (%s); set aside", refused.result.check_id,
                          refused.error)
            if self.on_drop is not None:
                self.on_drop(len(written.refused))
        if written.hook_failures:
            self.hook_failures += len(written.hook_failures)
        if self.on_hook_failure is not None:
            self.on_hook_failure(written.hook_failures)  # an empty list says the hooks work (again)
        for callback in self.after_commit:
            callback(written)

    # --- one batch -----------------------------------------------------------------------------------

    def _write(self, batch: Sequence[StoredResult]) -> Written:
        try:
            return self._write_all(batch)
        except (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError):
            raise  # the store is away or busy: keep the batch and retry it
        except Exception as exc:
            if len(batch) == 1:
                return Written(BatchOutcome(), refused=[Refused(batch[0], _one_line(exc))])
            half = len(batch) // 2
            first, second = self._write(batch[:half]), self._write(batch[half:])
            return _merge(first, second)

    def _write_all(self, batch: Sequence[StoredResult]) -> Written:
        with self.sessions.begin() as session:
            outcome = self.store(session, batch)
            if outcome.changes:
                changed = sorted({c.check_id for c in outcome.changes})
                emit(session, DomainEvent(Topic.CHECKS, "state changed", detail={"check_ids": changed}))
            failures = self._hooks(session, batch, outcome, sorted(outcome.check_ids))
        return Written(outcome, list(batch), failures)

    def _hooks(
        self, session: Session, batch: Sequence[StoredResult], outcome: BatchOutcome, check_ids: list[str]
    ) -> list[HookFailure]:
        """Run the hooks for `check_ids` in a savepoint; on failure split them until the culprits are
        found, keeping the work done for every other check."""
        if not self.hooks or not check_ids:
            return []
        chosen = set(check_ids)
        part = [r for r in batch if r.check_id in chosen]
        sub = BatchOutcome(changes=[c for c in outcome.changes if c.check_id in chosen], check_ids=chosen)
        try:
            with session.begin_nested():
                for hook in self.hooks:
                    hook(session, part, sub)
            return []
        except Exception as exc:
            if len(check_ids) == 1:
                log.error("alerting hooks failed for %s; its results are stored", check_ids[0],
                          exc_info=exc)
                return [HookFailure(check_ids[0], _one_line(exc), len(part))]
        half = len(check_ids) // 2
        return [*self._hooks(session, batch, outcome, check_ids[:half]),
                *self._hooks(session, batch, outcome, check_ids[half:])]

    # --- the loop ------------------------------------------------------------------------------------

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


def _merge(first: Written, second: Written) -> Written:
    outcome = BatchOutcome(
        changes=[*first.outcome.changes, *second.outcome.changes],
        check_ids=first.outcome.check_ids | second.outcome.check_ids,
    )
    return Written(
        outcome,
        [*first.stored, *second.stored],
        [*first.hook_failures, *second.hook_failures],
        [*first.refused, *second.refused],
    )


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
