"""Domain events: published after commit only, counted for other processes, read back by the feed."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select, text

from opsbook.db.engine import make_sessionmaker
from opsbook.events import DomainEvent, Event, RemoteChange, Topic, emit, on_commit
from opsbook.events.feed import feed_of
from opsbook.events.models import ChangeCounterRow


def _collect(sessions: object, topics: list[Topic]) -> list[Event]:
    seen: list[Event] = []
    from opsbook.events import bus_of

    with sessions() as s:  # type: ignore[operator]
        bus = bus_of(s)
    assert bus is not None
    bus.subscribe(topics, seen.append)
    return seen


def test_events_are_published_after_commit_and_counted(engine: Engine) -> None:
    sessions = make_sessionmaker(engine)
    seen = _collect(sessions, [Topic.INCIDENTS])
    with sessions.begin() as session:
        emit(session, DomainEvent(Topic.INCIDENTS, "acknowledged", "incident:1"))
        emit(session, DomainEvent(Topic.INCIDENTS, "note", "incident:1"))
        assert seen == []  # nothing before the commit
    assert [e.action for e in seen if isinstance(e, DomainEvent)] == ["acknowledged", "note"]
    with sessions() as session:
        version = select(ChangeCounterRow.version).where(ChangeCounterRow.topic == "incidents")
        assert session.scalar(version) == 1


def test_rollback_emits_nothing(engine: Engine) -> None:
    sessions = make_sessionmaker(engine)
    seen = _collect(sessions, list(Topic))
    with pytest.raises(RuntimeError), sessions.begin() as session:
        emit(session, DomainEvent(Topic.MUTES, "silence added"))
        raise RuntimeError("boom")
    with sessions.begin() as session:
        session.execute(text("SELECT 1"))
    assert seen == []
    with sessions() as session:
        assert session.scalar(select(ChangeCounterRow.version)) is None


def test_a_rolled_back_savepoint_drops_only_its_own_events(engine: Engine) -> None:
    sessions = make_sessionmaker(engine)
    seen = _collect(sessions, list(Topic))
    with sessions.begin() as session:
        emit(session, DomainEvent(Topic.CHECKS, "kept"))
        nested = session.begin_nested()
        emit(session, DomainEvent(Topic.ALERTS, "dropped"))
        nested.rollback()
        with session.begin_nested():
            emit(session, DomainEvent(Topic.ALERTS, "kept too"))
    assert [e.action for e in seen if isinstance(e, DomainEvent)] == ["kept", "kept too"]


def test_on_commit_waits_for_the_outer_commit_and_dies_with_its_savepoint(engine: Engine) -> None:
    """A callback registered inside a savepoint runs after the transaction commits (SQLAlchemy's own
    after_commit fires when the savepoint is released, while the outer transaction is still open)."""
    sessions = make_sessionmaker(engine)
    called: list[str] = []
    with sessions.begin() as session:
        with session.begin_nested():
            on_commit(session, lambda: called.append("in a released savepoint"))
        assert called == []
        nested = session.begin_nested()
        on_commit(session, lambda: called.append("in a rolled-back savepoint"))
        nested.rollback()
        on_commit(session, lambda: called.append("outside"))
        assert called == []
    assert called == ["in a released savepoint", "outside"]
    with pytest.raises(RuntimeError), sessions.begin() as session:
        on_commit(session, lambda: called.append("rolled back"))
        raise RuntimeError("boom")
    with sessions.begin() as session:
        session.execute(text("SELECT 1"))
    assert called == ["in a released savepoint", "outside"]


def test_a_failing_subscriber_does_not_stop_the_others(engine: Engine) -> None:
    sessions = make_sessionmaker(engine)
    seen = _collect(sessions, [Topic.OUTBOX])

    def broken(_event: Event) -> None:
        raise ValueError("subscriber bug")

    with sessions() as s:
        feed = feed_of(s)
        assert feed is not None
        bus = feed.bus
    bus.subscribe(Topic.OUTBOX, broken)
    bus.subscribe(Topic.OUTBOX, seen.append)
    with sessions.begin() as session:
        emit(session, DomainEvent(Topic.OUTBOX, "queued"))
    assert len(seen) == 2  # the first subscriber and the one after the broken one


def test_the_feed_learns_what_another_process_committed(engine: Engine) -> None:
    mine = make_sessionmaker(engine)
    other = make_sessionmaker(engine)  # another process: its own bus and feed
    with mine() as s:
        feed = feed_of(s)
    assert feed is not None
    remote: list[Event] = []
    feed.bus.subscribe(list(Topic), lambda e: remote.append(e) if isinstance(e, RemoteChange) else None)
    feed.sync()  # primed: what was there before is not news
    with other.begin() as session:
        emit(session, DomainEvent(Topic.MUTES, "maintenance added"))
    assert feed.sync() == [Topic.MUTES]
    assert remote == [RemoteChange(Topic.MUTES)]
    assert feed.sync() == []  # seen once
    with mine.begin() as session:  # our own commit is not a remote change
        emit(session, DomainEvent(Topic.MUTES, "silence added"))
    assert feed.sync() == []
    with other.begin() as session:  # theirs, then ours: the gap is noticed at our commit
        emit(session, DomainEvent(Topic.INCIDENTS, "note"))
    with mine.begin() as session:
        emit(session, DomainEvent(Topic.INCIDENTS, "ack"))
    assert RemoteChange(Topic.INCIDENTS) in remote
