"""Rule windows of checks probed from several locations, kept in memory although several processes write
them (PostgreSQL): each evaluation reads only the verdicts stored since the newest one taken in.

The verdicts of one check are stored in time order, one transaction after the other: the writer of a
verdict holds the check's state row lock (opsbook.locations.combine) and stores a verdict only if it is
newer than the check's newest. So once a verdict at `t` is committed, no verdict at or before `t` can be
committed later, and a window that holds every committed verdict up to `t` (`until`) is completed by
reading `ts > until`. What one transaction reads (its own verdicts included) is taken into the windows
only when it commits; a rolled-back transaction leaves them as they were.

    windows = SharedWindows(lookback, load=engine.read_samples)
    samples = windows.samples(session, ["web/api"], now)   # the window, as a read of the store would be
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import event
from sqlalchemy.orm import Session

from opsbook.alerts.windows import SLACK, Window
from opsbook.checks import store
from opsbook.rules.evaluate import Ordered, Sample

Loader = Callable[[Session, Sequence[str], datetime], Mapping[str, list[Sample]]]
_PENDING = "opsbook.located_windows"


@dataclass
class _Read:
    """What one transaction read for one cache: whole windows, and tails after `until`."""

    whole: dict[str, list[Sample]] = field(default_factory=dict)
    floor: dict[str, datetime] = field(default_factory=dict)  # a whole window read empty: its start
    tails: dict[str, list[Sample]] = field(default_factory=dict)


class SharedWindows:
    def __init__(self, lookback: Mapping[str, timedelta], load: Loader) -> None:
        self.lookback = dict(lookback)
        self.load = load
        self.loads = 0  # checks read whole from the store
        self.tail_reads = 0
        self._windows: dict[str, Window] = {}
        self._until: dict[str, datetime] = {}
        self._lock = threading.Lock()
        _CACHES.add(self)

    def samples(self, session: Session, check_ids: Iterable[str], now: datetime) -> dict[str, list[Sample]]:
        ids = [c for c in check_ids if c in self.lookback]
        read: _Read = session.info.setdefault(_PENDING, {}).setdefault(id(self), _Read())
        with self._lock:
            kept = {c: (self._windows[c], self._until[c]) for c in ids if c in self._windows}
            # a tail's first verdict whose message is "as before" continues from the window's newest
            known = {c: (until, window.samples[-1].message) for c, (window, until) in kept.items()
                     if window.samples and window.samples[-1].ts == until}
        missing = [c for c in ids if c not in kept]
        if missing:
            loaded = self.load(session, missing, now)
            for check_id in missing:
                read.whole[check_id] = list(loaded.get(check_id, []))
                # no verdict in the window: any later one that matters is newer than the window's start
                read.floor[check_id] = now - self.lookback[check_id] - SLACK
            self.loads += len(missing)
        tails: dict[str, list[Sample]] = {c: [] for c in kept}
        if kept:
            since = min(until for _, until in kept.values())
            for check_id, rows in store.recent(session, sorted(kept), since, now, known=known).items():
                tails[check_id] = [r.sample() for r in rows if r.ts > kept[check_id][1]]
            self.tail_reads += 1
            read.tails.update({c: s for c, s in tails.items() if s})
        out: dict[str, list[Sample]] = {}
        with self._lock:
            for check_id in ids:
                back = self.lookback[check_id]
                if check_id in kept:
                    window = kept[check_id][0]
                    window.evict(now - back - SLACK)
                    fresh = [s for s in tails[check_id] if s.ts > now - back]
                    chosen = [*window.between(now - back, now), *fresh]
                else:
                    chosen = [s for s in read.whole.get(check_id, []) if now - back < s.ts <= now]
                out[check_id] = Ordered(chosen)
        return out

    def _committed(self, read: _Read) -> None:
        with self._lock:
            for check_id, samples in read.whole.items():
                until = self._until.get(check_id)
                newest = samples[-1].ts if samples else read.floor[check_id]
                if until is None or newest >= until:
                    self._windows[check_id] = Window.of(samples)
                    self._until[check_id] = newest
            for check_id, samples in read.tails.items():
                window = self._windows.get(check_id)
                if window is None:
                    continue
                until = self._until[check_id]
                for sample in samples:
                    if sample.ts > until:
                        window.insert(sample)
                self._until[check_id] = max(until, samples[-1].ts)


_CACHES: weakref.WeakSet[SharedWindows] = weakref.WeakSet()


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return
    pending: dict[int, _Read] = session.info.pop(_PENDING, {})
    if not pending:
        return
    for cache in list(_CACHES):
        read = pending.get(id(cache))
        if read is not None:
            cache._committed(read)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    if not session.in_nested_transaction():
        session.info.pop(_PENDING, None)
