"""The silence and maintenance use cases on SQLite and PostgreSQL: each change commits with its audit row
and publishes its MUTES event after the commit; a refused or rolled-back change leaves neither."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from opsbook.auth.models import AuditRow
from opsbook.auth.roles import Principal, Role
from opsbook.clock import FakeClock
from opsbook.errors import Conflict, Forbidden, Invalid, NotFound
from opsbook.events import DomainEvent, Event, Topic
from opsbook.runtime import Runtime
from opsbook.silences import service
from opsbook.silences.matchers import parse_matcher
from opsbook.silences.models import MaintenanceRow, SilenceRow
from tests.silences.conftest import CONFIG, advance
from tests.support import make_runtime

NOW = datetime(2024, 1, 6, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
ALICE = Principal("alice", Role.RESPONDER, "127.0.0.1")
VERA = Principal("vera", Role.VIEWER, "127.0.0.1")
API = [parse_matcher("service=api")]


@pytest.fixture
def runtime(engine: Engine) -> Runtime:
    return make_runtime(engine, FakeClock(NOW), CONFIG)


@pytest.fixture
def seen(runtime: Runtime) -> Iterator[list[tuple[DomainEvent, int, int]]]:
    """MUTES events as published, each with the silences and windows committed at that moment."""
    published: list[tuple[DomainEvent, int, int]] = []

    def on_event(item: Event) -> None:
        assert isinstance(item, DomainEvent)
        with runtime.sessions() as session:  # a session of its own: it sees only what is committed
            silences = len(session.scalars(select(SilenceRow)).all())
            windows = len(session.scalars(select(MaintenanceRow)).all())
        published.append((item, silences, windows))

    unsubscribe = runtime.bus.subscribe(Topic.MUTES, on_event)
    yield published
    unsubscribe()


def audit(runtime: Runtime) -> list[tuple[str, str, str]]:
    with runtime.sessions() as session:
        rows = session.scalars(select(AuditRow).order_by(AuditRow.id))
        return [(r.actor, r.action, r.target) for r in rows]


def said(seen: list[tuple[DomainEvent, int, int]]) -> list[tuple[str, str]]:
    return [(e.action, e.subject) for e, _silences, _windows in seen]


def test_a_silence_added_and_expired_is_audited_and_announced_after_commit(
    runtime: Runtime, seen: list[tuple[DomainEvent, int, int]]
) -> None:
    row = service.add_silence(runtime, ALICE, API, ends_at=NOW + 2 * H, comment=" deploy ")
    assert (row.comment, row.created_by, row.starts_at) == ("deploy", "alice", NOW)
    assert seen == [(DomainEvent(Topic.MUTES, "silence added", f"silence:{row.id}"), 1, 0)]

    assert isinstance(runtime.clock, FakeClock)
    advance(runtime.clock, H)
    expired = service.expire_silence(runtime, ALICE, row.id)
    assert (expired.expired_at, expired.expired_by) == (NOW + H, "alice")
    assert said(seen)[1:] == [("silence expired", f"silence:{row.id}")]
    with runtime.sessions() as session:
        assert session.get_one(SilenceRow, row.id).expired_at == NOW + H
    assert audit(runtime) == [
        ("alice", "silence.create", f"silence:{row.id}"),
        ("alice", "silence.expire", f"silence:{row.id}"),
    ]


def test_a_maintenance_window_added_and_removed_is_audited_and_announced(
    runtime: Runtime, seen: list[tuple[DomainEvent, int, int]]
) -> None:
    row = service.add_maintenance(runtime, ALICE, ["db", "api"], starts_at=NOW + H, ends_at=NOW + 3 * H,
                                  title="Upgrade", description="PostgreSQL 16")
    assert row.services == ["api", "db"]
    service.remove_maintenance(runtime, ALICE, row.id)
    assert said(seen) == [("maintenance added", f"maintenance:{row.id}"),
                          ("maintenance removed", f"maintenance:{row.id}")]
    assert seen[0][2] == 1  # the window was committed when its event was published
    assert audit(runtime) == [
        ("alice", "maintenance.create", f"maintenance:{row.id}"),
        ("alice", "maintenance.cancel", f"maintenance:{row.id}"),
    ]


def test_refused_changes_leave_no_row_no_audit_and_no_event(
    runtime: Runtime, seen: list[tuple[DomainEvent, int, int]]
) -> None:
    with pytest.raises(Forbidden, match="needs the responder role"):
        service.add_silence(runtime, VERA, API, ends_at=NOW + H, comment="x")
    with pytest.raises(Forbidden):
        service.add_maintenance(runtime, VERA, ["api"], starts_at=NOW, ends_at=NOW + H, title="x")
    with pytest.raises(Invalid, match="needs a comment"):
        service.add_silence(runtime, ALICE, API, ends_at=NOW + H, comment=" ")
    with pytest.raises(Invalid, match="unknown service 'nope'"):
        service.add_maintenance(runtime, ALICE, ["nope"], starts_at=NOW, ends_at=NOW + H, title="x")
    with pytest.raises(NotFound, match="no silence 9"):
        service.expire_silence(runtime, ALICE, 9)
    with pytest.raises(NotFound, match="no maintenance window 9"):
        service.remove_maintenance(runtime, ALICE, 9)
    assert seen == [] and audit(runtime) == []

    row = service.add_silence(runtime, ALICE, API, ends_at=NOW + H, comment="x")
    service.expire_silence(runtime, ALICE, row.id)
    with pytest.raises(Conflict, match="already expired"):
        service.expire_silence(runtime, ALICE, row.id)
    with pytest.raises(Forbidden):
        service.expire_silence(runtime, VERA, row.id)
    assert said(seen) == [("silence added", f"silence:{row.id}"), ("silence expired", f"silence:{row.id}")]
    assert [a[1] for a in audit(runtime)] == ["silence.create", "silence.expire"]


def test_a_change_rolled_back_at_commit_publishes_nothing(
    runtime: Runtime, seen: list[tuple[DomainEvent, int, int]]
) -> None:
    def refuse(session: Session) -> None:
        raise RuntimeError("the database refused the commit")

    event.listen(Session, "before_commit", refuse)
    try:
        with pytest.raises(RuntimeError, match="refused the commit"):
            service.add_maintenance(runtime, ALICE, ["api"], starts_at=NOW, ends_at=NOW + H, title="x")
    finally:
        event.remove(Session, "before_commit", refuse)
    assert seen == [] and audit(runtime) == []
    with runtime.sessions() as session:
        assert session.scalars(select(MaintenanceRow)).all() == []
    service.add_maintenance(runtime, ALICE, ["api"], starts_at=NOW, ends_at=NOW + H, title="x")
    assert [e.action for e, _silences, _windows in seen] == ["maintenance added"]
