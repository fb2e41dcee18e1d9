"""Each check's recent results kept in memory, so rules evaluate without re-reading raw rows.

A check's window is read from the store once (the first time its rules are evaluated, e.g. after a
start) and from then on kept up to date by the results this process writes: `checks.store.write_batch`
leaves the results of a transaction in `session.info`, and when that transaction commits they are
added to every window cache of the same database. Rules therefore see exactly what a read of the store
would return — results in `(now - lookback, now]`, oldest first, late and out-of-order ones in their
place — at the cost of a list slice.

Inside the transaction that wrote a batch, the batch's results are visible to the evaluation before
they are committed (the overlay of the session); a window read from the store inside a transaction is
only kept if that transaction commits and no other commit touched the check meanwhile (a generation
count per check), so a rolled-back batch or a race between the writer and the due-alerts thread never
leaves a window wrong: at worst it is read from the store again.

Results written by another process (another worker of a cluster) do not reach this process's windows:
`forget(check_ids)` drops them (e.g. when a check's lease moves), and they are read again on next use.
"""

from __future__ import annotations

import bisect
import sys
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType

from sqlalchemy import event
from sqlalchemy.orm import Session

from opsbook.checks.result import StoredResult
from opsbook.checks.store import NEWEST_KEY, WRITTEN_KEY
from opsbook.rules.evaluate import Ordered, Sample

SLACK = timedelta(minutes=1)
"""Kept beyond a window's start, so an evaluation with a slightly older `now` (another thread) still
finds every result it needs."""

_OVERLAYS = "opsbook.window_overlays"

Loader = Callable[[Session, Sequence[str], datetime], Mapping[str, list[Sample]]]
"""Reads the given checks' results in `(now - lookback, now]` from the store, oldest first."""


_NO_VALUES: Mapping[str, float] = MappingProxyType({})


def sample_of(stored: StoredResult, values: bool = True) -> Sample:
    """A result as rules see it (as it reads back from the store); without its measured values when no
    rule of the check reads one, and short messages shared, so a window costs little memory."""
    r = stored.result
    return slim(Sample(stored.ts, r.status.value, r.latency_ms, r.values, r.message[:4000]), values)


def slim(sample: Sample, values: bool) -> Sample:
    message = sys.intern(sample.message) if len(sample.message) <= 200 else sample.message
    if values and message is sample.message:
        return sample
    kept = sample.values if values else _NO_VALUES
    return Sample(sample.ts, sample.status, sample.latency_ms, kept, message)


@dataclass(slots=True)
class Window:
    """One check's samples sorted by time (equal times in arrival order)."""

    times: list[datetime] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)

    @classmethod
    def of(cls, samples: Iterable[Sample]) -> Window:
        window = cls()
        for sample in samples:
            window.insert(sample)
        return window

    def insert(self, sample: Sample) -> None:
        at = bisect.bisect_right(self.times, sample.ts)
        self.times.insert(at, sample.ts)
        self.samples.insert(at, sample)

    def between(self, start: datetime, end: datetime) -> Ordered:
        """Samples with `start < ts <= end`."""
        lo, hi = bisect.bisect_right(self.times, start), bisect.bisect_right(self.times, end)
        return Ordered(self.samples[lo:hi])

    def evict(self, before: datetime) -> None:
        cut = bisect.bisect_right(self.times, before)
        if cut:
            del self.times[:cut]
            del self.samples[:cut]


@dataclass
class _Overlay:
    """What one transaction adds to a cache before it commits."""

    consumed: int = 0  # results of session.info[WRITTEN_KEY] taken in so far
    loaded: dict[str, tuple[int, Window]] = field(default_factory=dict)  # read in this transaction
    extra: dict[str, list[Sample]] = field(default_factory=dict)  # written here, for shared windows

    def absorb(self, written: Sequence[StoredResult], values: Callable[[str], bool]) -> None:
        for stored in written[self.consumed :]:
            sample = sample_of(stored, values(stored.check_id))
            own = self.loaded.get(stored.check_id)
            if own is not None:
                own[1].insert(sample)
            else:
                self.extra.setdefault(stored.check_id, []).append(sample)
        self.consumed = len(written)


class WindowCache:
    """The in-memory windows of one alert engine: `samples(session, check_ids, now)`."""

    def __init__(
        self, lookback: Mapping[str, timedelta], load: Loader, values: Iterable[str] | None = None
    ) -> None:
        """`values`: the checks whose rules read measured values (None: all); the others' windows keep
        none."""
        self.lookback = dict(lookback)
        self._values = None if values is None else frozenset(values)
        self.load = load
        self.loads = 0  # checks read from the store (at start, after `forget`, after a race)
        self._windows: dict[str, Window] = {}
        self._generation: dict[str, int] = {}
        self._lock = threading.Lock()
        self._url: str | None = None
        _CACHES.add(self)

    def samples(self, session: Session, check_ids: Iterable[str], now: datetime) -> dict[str, list[Sample]]:
        """Each check's results in `(now - lookback, now]`, oldest first (checks without rules: none)."""
        overlay = self._overlay(session)
        overlay.absorb(session.info.get(WRITTEN_KEY, ()), self.keeps_values)
        out: dict[str, list[Sample]] = {}
        missing: list[str] = []
        newest: Mapping[str, datetime | None] = session.info.get(NEWEST_KEY, {})
        with self._lock:
            for check_id in check_ids:
                back = self.lookback.get(check_id)
                if back is None:
                    continue
                own = overlay.loaded.get(check_id)
                window = own[1] if own is not None else self._windows.get(check_id)
                if window is None or (own is None and _missed(window, newest.get(check_id), now - back)):
                    missing.append(check_id)
                    continue
                window.evict(now - back - SLACK)
                chosen = window.between(now - back, now)
                extra = overlay.extra.get(check_id) if own is None else None
                if extra:
                    chosen = Ordered(sorted([*chosen, *(s for s in extra if now - back < s.ts <= now)],
                                            key=lambda s: s.ts))
                out[check_id] = chosen
            generations = {c: self._generation.get(c, 0) for c in missing}
        if missing:
            self._bind(session)
            read = self.load(session, missing, now)  # sees this transaction's own rows
            self.loads += len(missing)
            for check_id in missing:
                keep = self.keeps_values(check_id)
                window = Window.of(slim(sample, keep) for sample in read.get(check_id, []))
                overlay.loaded[check_id] = (generations[check_id], window)
                overlay.extra.pop(check_id, None)
                out[check_id] = window.between(now - self.lookback[check_id], now)
        return out

    def keeps_values(self, check_id: str) -> bool:
        return self._values is None or check_id in self._values

    def forget(self, check_ids: Iterable[str] | None = None) -> None:
        """Drop windows (all of them without arguments): they are read from the store on next use."""
        with self._lock:
            if check_ids is None:
                self._windows.clear()
                return
            for check_id in check_ids:
                self._windows.pop(check_id, None)
                self._generation[check_id] = self._generation.get(check_id, 0) + 1

    def _overlay(self, session: Session) -> _Overlay:
        overlays: dict[int, _Overlay] = session.info.setdefault(_OVERLAYS, {})
        return overlays.setdefault(id(self), _Overlay())

    def _bind(self, session: Session) -> None:
        if self._url is None:
            self._url = _url_of(session)

    def _committed(self, url: str | None, written: Sequence[StoredResult], overlay: _Overlay | None) -> None:
        if self._url is None or url != self._url:
            return  # this cache has read nothing from that database
        if overlay is not None:
            overlay.absorb(written, self.keeps_values)
        touched = {r.check_id for r in written}
        with self._lock:
            if overlay is not None:
                for check_id, (generation, window) in overlay.loaded.items():
                    if self._generation.get(check_id, 0) == generation:
                        self._windows[check_id] = window
                    else:  # another transaction committed results of it meanwhile: read it again
                        self._windows.pop(check_id, None)
            fresh = overlay.loaded if overlay is not None else {}
            for stored in written:
                if stored.check_id in fresh:
                    continue  # already in the window read within the transaction
                shared = self._windows.get(stored.check_id)
                if shared is not None:
                    shared.insert(sample_of(stored, self.keeps_values(stored.check_id)))
            for check_id in touched:
                self._generation[check_id] = self._generation.get(check_id, 0) + 1


def _missed(window: Window, newest: datetime | None, start: datetime) -> bool:
    """Whether a result stored before this transaction (by another process: a worker that ran the check
    while this one did not) is missing from the window."""
    if newest is None or newest <= start:
        return False
    return not window.times or window.times[-1] < newest


_CACHES: weakref.WeakSet[WindowCache] = weakref.WeakSet()


def _url_of(session: Session) -> str | None:
    try:
        return str(session.get_bind().engine.url)
    except Exception:  # an unbound session has written nothing a cache could have read
        return None


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint: the transaction is still open
    session.info.pop(NEWEST_KEY, None)
    written: Sequence[StoredResult] = session.info.pop(WRITTEN_KEY, ())
    overlays: dict[int, _Overlay] = session.info.pop(_OVERLAYS, {})
    if not written and not overlays:
        return
    url = _url_of(session)
    for cache in list(_CACHES):
        cache._committed(url, written, overlays.get(id(cache)))


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint rolled back: results are written outside the hooks' savepoints
    session.info.pop(WRITTEN_KEY, None)
    session.info.pop(NEWEST_KEY, None)
    session.info.pop(_OVERLAYS, None)
