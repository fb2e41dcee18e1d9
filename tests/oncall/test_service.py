"""The on-call service on a real store (SQLite and PostgreSQL): overrides, handoffs, gaps, feeds, targets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from opsbook.auth.models import AuditRow
from opsbook.auth.roles import Principal, Role
from opsbook.config.schema import OpsbookConfig
from opsbook.oncall import service
from opsbook.oncall.escalation import due_steps

ANA = Principal("ana", Role.RESPONDER, "cli")
BEN = Principal("ben", Role.RESPONDER, "cli")
# Berlin is UTC+1 in January: the Monday 09:00 handoffs are at 08:00 UTC
JAN = lambda d, h=0, m=0: datetime(2026, 1, d, h, m, tzinfo=UTC)  # noqa: E731


def test_override_changes_who_is_on_call_and_is_audited(
    sessions: sessionmaker[Session], team: OpsbookConfig
) -> None:
    with sessions.begin() as s:
        assert service.on_call(s, team, "primary", JAN(17, 12)) == "ben"
        row = service.add_override(s, team, JAN(14), BEN, "primary", "chen", JAN(16, 17), JAN(19, 8),
                                   covers="ben", reason="ben travels")
        oid = row.id
    with sessions.begin() as s:
        assert service.on_call(s, team, "primary", JAN(17, 12)) == "chen"
        assert service.on_call(s, team, "primary", JAN(16, 16, 59)) == "ben"
        found = service.schedule_shifts(s, team, "primary", JAN(12, 8), JAN(26, 8))
        assert [(x.user, x.start, x.end) for x in found] == [("ben", JAN(12, 8), JAN(16, 17)),
                                                            ("chen", JAN(16, 17), JAN(26, 8))]
        audit = s.scalars(select(AuditRow).where(AuditRow.action == "oncall.override.add")).one()
        assert (audit.actor, audit.target, audit.detail["user"], audit.detail["covers"]) == (
            "ben", "schedule:primary", "chen", "ben")
        assert [o.id for o in service.list_overrides(s, "primary", since=JAN(18))] == [oid]
        assert service.list_overrides(s, "primary", since=JAN(20)) == []
    with sessions.begin() as s:
        service.remove_override(s, JAN(15), ANA, oid)
    with sessions.begin() as s:
        assert service.on_call(s, team, "primary", JAN(17, 12)) == "ben"
        assert s.scalars(select(AuditRow.action).order_by(AuditRow.id)).all() == [
            "oncall.override.add", "oncall.override.remove"]


def test_bad_overrides_are_refused(sessions: sessionmaker[Session], team: OpsbookConfig) -> None:
    with sessions.begin() as s:
        with pytest.raises(service.NotFound, match="no schedule 'nights'"):
            service.add_override(s, team, JAN(1), ANA, "nights", "ana", JAN(2), JAN(3))
        with pytest.raises(service.NotFound, match="no user 'dan'"):
            service.add_override(s, team, JAN(1), ANA, "primary", "dan", JAN(2), JAN(3))
        with pytest.raises(service.OncallError, match="must end after it starts"):
            service.add_override(s, team, JAN(1), ANA, "primary", "ana", JAN(3), JAN(3))
        with pytest.raises(service.NotFound, match="no override 42"):
            service.remove_override(s, JAN(1), ANA, 42)


def test_handoff_notes_reach_the_incoming_person(
    sessions: sessionmaker[Session], team: OpsbookConfig
) -> None:
    with sessions.begin() as s:
        service.add_handoff_note(s, team, JAN(11, 20), ANA, "primary", "for ben: db is slow")
        service.add_handoff_note(s, team, JAN(18, 20), BEN, "primary", "for chen: watch the disk on db1")
        service.add_handoff_note(s, team, JAN(19, 8, 20), BEN, "primary", "forgot: deploy frozen")
        service.add_handoff_note(s, team, JAN(19, 8, 30), Principal("chen", Role.RESPONDER), "primary",
                                 "chen's own note for later")
        service.add_handoff_note(s, team, JAN(18, 21), BEN, "business", "other schedule")
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
        with pytest.raises(service.OncallError, match="cannot be empty"):
            service.add_handoff_note(s, team, JAN(1), ANA, "primary", "  ")
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
        assert service.contact_urls(team, "ana", "P0") == ["json://127.0.0.1:9/ana-page"]


def test_gaps_ahead(sessions: sessionmaker[Session], team: OpsbookConfig) -> None:
    with sessions.begin() as s:
        found = service.upcoming_gaps(s, team, JAN(16, 12), days=3, schedule="business")
        assert [(g.start, g.end) for g in found] == [(JAN(16, 17), JAN(19, 8))]  # Fri 18:00 to Mon 09:00
        assert service.upcoming_gaps(s, team, JAN(16, 12), days=3, schedule="primary") == []
        before = service.upcoming_gaps(s, team, JAN(1), days=7)
        assert [(g.schedule, g.start, g.end) for g in before][:2] == [
            ("business", JAN(1), JAN(5, 8)), ("primary", JAN(1), JAN(5, 8))]
        service.add_override(s, team, JAN(1), ANA, "business", "ana", JAN(16, 17), JAN(19, 8))
        assert service.upcoming_gaps(s, team, JAN(16, 12), days=3, schedule="business") == []


def _events(feed: bytes) -> list[tuple[str, datetime, datetime]]:
    cal = Calendar.from_ical(feed)
    found = [(str(e["summary"]), e.decoded("dtstart"), e.decoded("dtend")) for e in cal.walk("VEVENT")]
    return sorted(found, key=lambda e: (e[1], e[0]))


def test_ical_feeds_list_the_right_shifts(sessions: sessionmaker[Session], team: OpsbookConfig) -> None:
    now = JAN(14, 12)
    with sessions.begin() as s:
        service.add_override(s, team, now, ANA, "primary", "ana", JAN(16, 17), JAN(19, 8), covers="ben")
    with sessions.begin() as s:
        feed = service.schedule_feed(s, team, "primary", now)
        events = _events(feed)
        cal = Calendar.from_ical(feed)
        assert str(cal["x-wr-calname"]) == "On call: primary"
        assert events[:4] == [
            ("On call: Ana Ruiz (primary)", JAN(5, 8), JAN(12, 8)),
            ("On call: Ben Okafor (primary)", JAN(12, 8), JAN(16, 17)),
            ("On call: Ana Ruiz (primary)", JAN(16, 17), JAN(19, 8)),
            ("On call: chen (primary)", JAN(19, 8), JAN(26, 8)),
        ]
        span = (now - service.FEED_PAST, now + service.FEED_FUTURE)
        expected = service.schedule_shifts(s, team, "primary", *span)
        assert len(events) == len(expected)
        uids = [str(e["uid"]) for e in cal.walk("VEVENT")]
        assert len(set(uids)) == len(uids)

        mine = _events(service.user_feed(s, team, "ana", now))
        assert all(e[0].startswith("On call: Ana Ruiz") for e in mine)
        assert mine[:3] == [
            ("On call: Ana Ruiz (primary)", JAN(5, 8), JAN(12, 8)),
            ("On call: Ana Ruiz (primary)", JAN(16, 17), JAN(19, 8)),
            ("On call: Ana Ruiz (primary)", JAN(26, 8), datetime(2026, 2, 2, 8, tzinfo=UTC)),
        ]
        lead = _events(service.user_feed(s, team, "lead", now))
        assert lead[0] == ("On call: lead (business)", JAN(5, 8), JAN(5, 17))
        with pytest.raises(service.NotFound):
            service.user_feed(s, team, "nobody", now)
