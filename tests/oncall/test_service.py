"""On-call on a real store (SQLite and PostgreSQL): the override and handoff use cases (audit row, event
after commit, nothing when refused or rolled back), and handoffs, gaps, feeds and targets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from opsbook.auth.models import AuditRow
from opsbook.auth.roles import Principal, Role
from opsbook.clock import FakeClock
from opsbook.config.schema import OpsbookConfig
from opsbook.errors import Forbidden, Invalid, NotFound
from opsbook.events import DomainEvent, Event, Topic
from opsbook.oncall import feeds, service, store
from opsbook.oncall.escalation import due_steps
from opsbook.oncall.models import HandoffNoteRow
from opsbook.runtime import Runtime
from tests.oncall.conftest import TEAM_YAML
from tests.support import make_runtime

ANA = Principal("ana", Role.RESPONDER, "cli")
BEN = Principal("ben", Role.RESPONDER, "cli")
WALL = Principal("wall", Role.VIEWER, "127.0.0.1")
# Berlin is UTC+1 in January: the Monday 09:00 handoffs are at 08:00 UTC
JAN = lambda d, h=0, m=0: datetime(2026, 1, d, h, m, tzinfo=UTC)  # noqa: E731


@pytest.fixture
def runtime(engine: Engine) -> Runtime:
    return make_runtime(engine, FakeClock(JAN(14)), TEAM_YAML)


@pytest.fixture
def seen(runtime: Runtime) -> Iterator[list[DomainEvent]]:
    """ONCALL events as published (the subscriber checks that its change is committed by then)."""
    published: list[DomainEvent] = []

    def on_event(item: Event) -> None:
        assert isinstance(item, DomainEvent)
        with runtime.sessions() as session:  # a session of its own: it sees only what is committed
            committed = session.scalars(select(AuditRow.action).order_by(AuditRow.id.desc())).first()
        assert committed is not None and committed.startswith("oncall.")
        published.append(item)

    unsubscribe = runtime.bus.subscribe(Topic.ONCALL, on_event)
    yield published
    unsubscribe()


def audit(runtime: Runtime) -> list[tuple[str, str, str]]:
    with runtime.sessions() as s:
        return [(a.actor, a.action, a.target) for a in s.scalars(select(AuditRow).order_by(AuditRow.id))]


def test_an_override_changes_who_is_on_call_and_is_audited_and_announced(
    runtime: Runtime, seen: list[DomainEvent]
) -> None:
    team = runtime.config
    with runtime.sessions() as s:
        assert service.on_call(s, team, "primary", JAN(17, 12)) == "ben"
    row = service.add_override(runtime, BEN, "primary", "chen", JAN(16, 17), JAN(19, 8), covers="ben",
                               reason="ben travels")
    assert (row.created_by, row.created_at) == ("ben", JAN(14))
    assert seen == [DomainEvent(Topic.ONCALL, "override added", "schedule:primary")]
    assert seen[0].detail == {"override": row.id}
    with runtime.sessions() as s:
        assert service.on_call(s, team, "primary", JAN(17, 12)) == "chen"
        assert service.on_call(s, team, "primary", JAN(16, 16, 59)) == "ben"
        found = service.schedule_shifts(s, team, "primary", JAN(12, 8), JAN(26, 8))
        assert [(x.user, x.start, x.end) for x in found] == [("ben", JAN(12, 8), JAN(16, 17)),
                                                            ("chen", JAN(16, 17), JAN(26, 8))]
        added = s.scalars(select(AuditRow).where(AuditRow.action == "oncall.override.add")).one()
        detail = added.detail
        assert (detail["override"], detail["user"], detail["covers"]) == (row.id, "chen", "ben")
        assert [o.id for o in service.list_overrides(s, "primary", since=JAN(18))] == [row.id]
        assert service.list_overrides(s, "primary", since=JAN(20)) == []

    removed = service.remove_override(runtime, ANA, row.id)
    assert (removed.user, removed.schedule) == ("chen", "primary")
    assert [(e.action, e.subject) for e in seen[1:]] == [("override removed", "schedule:primary")]
    with runtime.sessions() as s:
        assert service.on_call(s, team, "primary", JAN(17, 12)) == "ben"
    assert audit(runtime) == [("ben", "oncall.override.add", "schedule:primary"),
                              ("ana", "oncall.override.remove", "schedule:primary")]


def test_a_handoff_note_is_audited_and_announced(runtime: Runtime, seen: list[DomainEvent]) -> None:
    row = service.add_handoff_note(runtime, BEN, "primary", " for chen: watch the disk on db1 ")
    assert (row.author, row.note, row.created_at) == ("ben", "for chen: watch the disk on db1", JAN(14))
    assert seen == [DomainEvent(Topic.ONCALL, "handoff note", "schedule:primary")]
    assert audit(runtime) == [("ben", "oncall.handoff.note", "schedule:primary")]


def test_refused_changes_leave_no_row_no_audit_and_no_event(
    runtime: Runtime, seen: list[DomainEvent]
) -> None:
    with pytest.raises(Forbidden, match="needs the responder role"):
        service.add_override(runtime, WALL, "primary", "ana", JAN(15), JAN(16))
    with pytest.raises(Forbidden):
        service.add_handoff_note(runtime, WALL, "primary", "hello")
    with pytest.raises(Invalid, match="no schedule 'nights'"):
        service.add_override(runtime, ANA, "nights", "ana", JAN(2), JAN(3))
    with pytest.raises(Invalid, match="no user 'dan'"):
        service.add_override(runtime, ANA, "primary", "dan", JAN(2), JAN(3))
    with pytest.raises(Invalid, match="no user 'eve'"):
        service.add_override(runtime, ANA, "primary", "ana", JAN(2), JAN(3), covers="eve")
    with pytest.raises(Invalid, match="must end after it starts"):
        service.add_override(runtime, ANA, "primary", "ana", JAN(3), JAN(3))
    with pytest.raises(Invalid, match="needs a time zone"):
        service.add_override(runtime, ANA, "primary", "ana", datetime(2026, 1, 2), JAN(3))
    with pytest.raises(NotFound, match="no override 42"):
        service.remove_override(runtime, ANA, 42)
    with pytest.raises(Invalid, match="cannot be empty"):
        service.add_handoff_note(runtime, ANA, "primary", "  ")
    with pytest.raises(Invalid, match="no schedule 'nights'"):
        service.add_handoff_note(runtime, ANA, "nights", "hello")
    row = service.add_override(runtime, ANA, "primary", "ana", JAN(15), JAN(16))
    with pytest.raises(Forbidden):
        service.remove_override(runtime, WALL, row.id)
    assert [e.action for e in seen] == ["override added"]
    assert [a[1] for a in audit(runtime)] == ["oncall.override.add"]


def test_a_note_rolled_back_at_commit_publishes_nothing(runtime: Runtime, seen: list[DomainEvent]) -> None:
    def refuse(session: Session) -> None:
        raise RuntimeError("the database refused the commit")

    event.listen(Session, "before_commit", refuse)
    try:
        with pytest.raises(RuntimeError, match="refused the commit"):
            service.add_handoff_note(runtime, BEN, "primary", "lost")
    finally:
        event.remove(Session, "before_commit", refuse)
    assert seen == [] and audit(runtime) == []
    with runtime.sessions() as s:
        assert s.scalars(select(HandoffNoteRow)).all() == []


def test_handoff_notes_reach_the_incoming_person(
    sessions: sessionmaker[Session], team: OpsbookConfig
) -> None:
    with sessions.begin() as s:
        store.add_handoff_note(s, team, JAN(11, 20), ANA, "primary", "for ben: db is slow")
        store.add_handoff_note(s, team, JAN(18, 20), BEN, "primary", "for chen: watch the disk on db1")
        store.add_handoff_note(s, team, JAN(19, 8, 20), BEN, "primary", "forgot: deploy frozen")
        store.add_handoff_note(s, team, JAN(19, 8, 30), Principal("chen", Role.RESPONDER), "primary",
                               "chen's own note for later")
        store.add_handoff_note(s, team, JAN(18, 21), BEN, "business", "other schedule")
    with sessions.begin() as s:
        brief = service.pending_handoff(s, team, "primary", "chen", JAN(19, 9))
        assert brief is not None
        assert (brief.user, brief.shift.start, brief.shift.end) == ("chen", JAN(19, 8), JAN(26, 8))
        assert brief.previous is not None and brief.previous.user == "ben"
        assert brief.next is not None and brief.next.user == "ana"
        assert [(n.author, n.text) for n in brief.notes] == [
            ("ben", "for chen: watch the disk on db1"), ("ben", "forgot: deploy frozen")]
        assert service.pending_handoff(s, team, "primary", "ben", JAN(19, 9)) is None
        # at the start of the shift, a note written later is not there yet
        early = service.pending_handoff(s, team, "primary", "chen", JAN(19, 8))
        assert early is not None and [n.text for n in early.notes] == ["for chen: watch the disk on db1"]
        ben = service.pending_handoff(s, team, "primary", "ben", JAN(12, 8))
        assert ben is not None and [n.text for n in ben.notes] == ["for ben: db is slow"]
        assert [n.note for n in service.handoff_notes(s, "business")] == ["other schedule"]


def test_who_is_on_call_now(sessions: sessionmaker[Session], team: OpsbookConfig) -> None:
    with sessions.begin() as s:
        now = service.on_call_now(s, team, JAN(14, 12))
        by = {n.schedule: n for n in now}
        assert by["primary"].current is not None and by["primary"].current.user == "ben"
        assert by["primary"].previous is not None and by["primary"].previous.user == "ana"
        assert by["primary"].next is not None and by["primary"].next.user == "chen"
        night = service.on_call_now(s, team, JAN(14, 22), "business")[0]
        assert night.current is None and night.next is not None and night.next.start == JAN(15, 8)


def test_escalation_targets_resolve_to_people(sessions: sessionmaker[Session], team: OpsbookConfig) -> None:
    policy = team.escalation_policies[0]
    opened = JAN(20, 3)
    with sessions.begin() as s:
        paged = [
            (step.due - opened, service.resolve_targets(s, team, step.targets, step.due))
            for step in due_steps(policy, opened, opened + timedelta(hours=1))
        ]
        assert paged == [(timedelta(0), ["chen"]), (timedelta(minutes=10), ["lead"]),
                         (timedelta(minutes=30), ["cto"])]
        targets = ["schedule:business", "user:ana", "user:ana"]
        assert service.resolve_targets(s, team, targets, JAN(20, 3)) == ["ana"]


def test_gaps_ahead(sessions: sessionmaker[Session], team: OpsbookConfig) -> None:
    with sessions.begin() as s:
        found = service.upcoming_gaps(s, team, JAN(16, 12), days=3, schedule="business")
        assert [(g.start, g.end) for g in found] == [(JAN(16, 17), JAN(19, 8))]  # Fri 18:00 to Mon 09:00
        assert service.upcoming_gaps(s, team, JAN(16, 12), days=3, schedule="primary") == []
        before = service.upcoming_gaps(s, team, JAN(1), days=7)
        assert [(g.schedule, g.start, g.end) for g in before][:2] == [
            ("business", JAN(1), JAN(5, 8)), ("primary", JAN(1), JAN(5, 8))]
        store.add_override(s, team, JAN(1), ANA, "business", "ana", JAN(16, 17), JAN(19, 8))
        assert service.upcoming_gaps(s, team, JAN(16, 12), days=3, schedule="business") == []


def _events(feed: bytes) -> list[tuple[str, datetime, datetime]]:
    cal = Calendar.from_ical(feed)
    found = [(str(e["summary"]), e.decoded("dtstart"), e.decoded("dtend")) for e in cal.walk("VEVENT")]
    return sorted(found, key=lambda e: (e[1], e[0]))


def test_ical_feeds_list_the_right_shifts(sessions: sessionmaker[Session], team: OpsbookConfig) -> None:
    now = JAN(14, 12)
    with sessions.begin() as s:
        store.add_override(s, team, now, ANA, "primary", "ana", JAN(16, 17), JAN(19, 8), covers="ben")
    with sessions.begin() as s:
        feed = feeds.schedule_feed(s, team, "primary", now)
        events = _events(feed)
        cal = Calendar.from_ical(feed)
        assert str(cal["x-wr-calname"]) == "On call: primary"
        assert events[:4] == [
            ("On call: Ana Ruiz (primary)", JAN(5, 8), JAN(12, 8)),
            ("On call: Ben Okafor (primary)", JAN(12, 8), JAN(16, 17)),
            ("On call: Ana Ruiz (primary)", JAN(16, 17), JAN(19, 8)),
            ("On call: chen (primary)", JAN(19, 8), JAN(26, 8)),
        ]
        span = (now - feeds.FEED_PAST, now + feeds.FEED_FUTURE)
        expected = service.schedule_shifts(s, team, "primary", *span)
        assert len(events) == len(expected)
        uids = [str(e["uid"]) for e in cal.walk("VEVENT")]
        assert len(set(uids)) == len(uids)

        mine = _events(feeds.user_feed(s, team, "ana", now))
        assert all(e[0].startswith("On call: Ana Ruiz") for e in mine)
        assert mine[:3] == [
            ("On call: Ana Ruiz (primary)", JAN(5, 8), JAN(12, 8)),
            ("On call: Ana Ruiz (primary)", JAN(16, 17), JAN(19, 8)),
            ("On call: Ana Ruiz (primary)", JAN(26, 8), datetime(2026, 2, 2, 8, tzinfo=UTC)),
        ]
        lead = _events(feeds.user_feed(s, team, "lead", now))
        assert lead[0] == ("On call: lead (business)", JAN(5, 8), JAN(5, 17))
        with pytest.raises(NotFound, match="no user 'nobody'"):
            feeds.user_feed(s, team, "nobody", now)
