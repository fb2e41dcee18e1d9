"""Domain events: what a use case tells the rest of opsbook after its transaction commits.

A use case (or the pipeline) calls `emit(session, event)` inside its transaction. Nothing happens until
the transaction commits; then:

- the event's topic counter (`change_counters`) was bumped in that same transaction, and on PostgreSQL a
  `NOTIFY opsbook_changes` went with the commit, so other processes learn of it (`events.feed`);
- the event is handed to the subscribers of its topic in this process (`EventBus`), in the committing
  thread: wake the delivery worker and the escalation engine, mark the status page stale, and so on.

A rolled-back transaction emits nothing. No surface (API, web UI, CLI) calls a subscriber itself: it
calls a use case, the use case emits, the subscribers react.

Subscribers run in whatever thread committed; they must be quick and thread-safe (set a flag, or
`loop.call_soon_threadsafe`); one that raises is logged and the others still run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import event as sa_event
from sqlalchemy import text
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

BUS_KEY = "opsbook.bus"
_PENDING_KEY = "opsbook.events"
_VERSIONS_KEY = "opsbook.event_versions"
_CALLBACKS_KEY = "opsbook.on_commit"
NOTIFY_CHANNEL = "opsbook_changes"


class Topic(StrEnum):
    """What changed; subscribers choose by topic, so a remote change (topic only) reaches them too."""

    CHECKS = "checks"  # a check changed state (up/down/degraded)
    ALERTS = "alerts"  # an alert fired, resolved or was acknowledged
    INCIDENTS = "incidents"  # opened, acknowledged, status, severity, notes, public text, resolved
    MUTES = "mutes"  # silences and maintenance windows added, expired or removed
    OUTBOX = "outbox"  # messages are waiting to be delivered (new, retried)
    ONCALL = "oncall"  # overrides and handoff notes
    RUNS = "runs"  # runbook runs started, stepped, finished or aborted
    ACCESS = "access"  # users, passwords and API tokens
    OPLOG = "oplog"  # operations log entries written by a person
    BACKUPS = "backups"  # backups recorded or listed, restore drills run
    SECRETS = "secrets"  # rotations recorded, compromises and rotation failures reported
    DEPLOYS = "deploys"  # deploys started, finished, recorded; freezes declared
    CHORES = "chores"  # recurring chores due, reminded, done, skipped or overdue
    SUBSCRIBERS = "subscribers"  # status page subscriptions requested, confirmed, removed


class Event(Protocol):
    @property
    def topic(self) -> Topic: ...


@dataclass(frozen=True)
class DomainEvent:
    """One change, as its use case describes it: `Changed(Topic.INCIDENTS, "acknowledged", "incident:4")`."""

    topic: Topic
    action: str
    subject: str = ""
    detail: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class RemoteChange:
    """Another process committed changes of `topic` (we know that, not what)."""

    topic: Topic
    remote: bool = True


Handler = Callable[[Event], None]


class EventBus:
    """Hands committed events to this process's subscribers, by topic."""

    def __init__(self) -> None:
        self._handlers: dict[Topic, list[Handler]] = {}
        self._lock = threading.Lock()

    def subscribe(self, topics: Topic | Iterable[Topic], handler: Handler) -> Callable[[], None]:
        """Call `handler(event)` for every committed event of `topics`; returns the unsubscribe call."""
        chosen = [topics] if isinstance(topics, Topic) else list(topics)
        with self._lock:
            for topic in chosen:
                self._handlers.setdefault(topic, []).append(handler)

        def unsubscribe() -> None:
            with self._lock:
                for topic in chosen:
                    handlers = self._handlers.get(topic, [])
                    if handler in handlers:
                        handlers.remove(handler)

        return unsubscribe

    def publish(self, events: Sequence[Event]) -> None:
        for item in events:
            with self._lock:
                handlers = list(self._handlers.get(item.topic, ()))
            for handler in handlers:
                try:
                    handler(item)
                except Exception:
                    log.exception("a subscriber of %s events failed", item.topic)


def emit(session: Session, *events: DomainEvent) -> None:
    """Record events in the session's transaction: published after it commits, dropped on rollback
    (of the transaction, or of the savepoint they were emitted in)."""
    current = session.get_nested_transaction() or session.get_transaction()
    pending: list[tuple[Any, DomainEvent]] = session.info.setdefault(_PENDING_KEY, [])
    pending.extend((current, e) for e in events)


def on_commit(session: Session, callback: Callable[[], object]) -> None:
    """Call `callback` once the session's transaction has committed (not when a savepoint is released:
    SQLAlchemy's own after_commit fires then too); dropped with the transaction or savepoint it was
    registered in, like emitted events."""
    current = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_CALLBACKS_KEY, []).append((current, callback))


def _pending(session: Session) -> list[DomainEvent]:
    return [e for _txn, e in session.info.get(_PENDING_KEY) or []]


def bus_of(session: Session) -> EventBus | None:
    bus = session.info.get(BUS_KEY)
    return bus if isinstance(bus, EventBus) else None


_BUMP = text(
    "INSERT INTO change_counters (topic, version) VALUES (:topic, 1) "
    "ON CONFLICT (topic) DO UPDATE SET version = change_counters.version + 1 "
    "RETURNING version"
)


@sa_event.listens_for(Session, "before_commit")
def _bump_counters(session: Session) -> None:
    pending = _pending(session)
    if not pending or session.in_nested_transaction():  # a savepoint: the outer commit counts
        return
    versions: dict[Topic, int] = {}
    postgres = session.get_bind().dialect.name == "postgresql"
    for topic in sorted({e.topic for e in pending}):  # a fixed order: no deadlock between two commits
        versions[topic] = int(session.execute(_BUMP, {"topic": topic.value}).scalar_one())
        if postgres:
            session.execute(text("SELECT pg_notify(:channel, :topic)"),
                            {"channel": NOTIFY_CHANNEL, "topic": topic.value})
    session.info[_VERSIONS_KEY] = versions


@sa_event.listens_for(Session, "after_commit")
def _publish(session: Session) -> None:
    if session.in_nested_transaction():
        return  # SQLAlchemy calls after_commit when a savepoint is released too: nothing is committed yet
    pending = _pending(session)
    session.info.pop(_PENDING_KEY, None)
    versions: dict[Topic, int] = session.info.pop(_VERSIONS_KEY, None) or {}
    for _txn, callback in session.info.pop(_CALLBACKS_KEY, None) or []:
        try:
            callback()
        except Exception:
            log.exception("a callback after commit failed")
    if not pending:
        return
    bus = bus_of(session)
    if bus is None:
        return
    from opsbook.events.feed import feed_of

    feed = feed_of(session)
    if feed is not None:
        feed.committed_here(versions)
    bus.publish(pending)


def _within(txn: Any, outer: Any) -> bool:
    while txn is not None:
        if txn is outer:
            return True
        txn = txn.parent
    return False


@sa_event.listens_for(Session, "after_soft_rollback")
def _drop(session: Session, previous: Any) -> None:
    if previous.nested:  # a savepoint rolled back: only what was emitted inside it is void
        for key in (_PENDING_KEY, _CALLBACKS_KEY):
            kept = [(txn, e) for txn, e in session.info.get(key) or [] if not _within(txn, previous)]
            session.info[key] = kept
        return
    session.info.pop(_PENDING_KEY, None)
    session.info.pop(_CALLBACKS_KEY, None)
    session.info.pop(_VERSIONS_KEY, None)
