"""The iCalendar feeds as a calendar app reads them, over real HTTP with `?token=`: whole shifts (not cut at
the window's edges), UIDs that stay the same from one fetch to the next, and a valid calendar (one
component at least, RFC 5545) for a person with no shifts. Parsed with `icalendar`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from icalendar import Calendar
from sqlalchemy import Engine

from opsbook.auth.roles import Role
from opsbook.auth.tokens import create_token
from opsbook.clock import FakeClock
from opsbook.oncall import feeds
from opsbook.oncall.rotation import Shift
from opsbook.web.app import create_app
from tests.oncall.conftest import TEAM_YAML
from tests.support import make_runtime, serving

CONFIG = TEAM_YAML.replace("  - name: cto\n", "  - name: cto\n  - name: dora\n")
CONFIG = CONFIG.replace("escalation_policies:", """  - name: solo
    timezone: UTC
    layers:
      - {name: always, users: [dora], turn: 1w, handoff: "monday 09:00", start: 2025-01-06}
base_url: https://ops.acme.test
escalation_policies:""")
NOW = datetime(2026, 3, 18, 11, 0, tzinfo=UTC)  # Wednesday; the feed's window is Feb 16 11:00 – Jun 16 10:00


def _events(body: bytes) -> list[tuple[str, datetime, datetime, str]]:
    cal = Calendar.from_ical(body)
    found = [(str(e["uid"]), e.decoded("dtstart"), e.decoded("dtend"), str(e["summary"]))
             for e in cal.walk("VEVENT")]
    return sorted(found, key=lambda e: e[1])


async def test_feeds_give_whole_shifts_with_stable_uids(sqlite_engine: Engine) -> None:
    clock = FakeClock(NOW)
    runtime = make_runtime(sqlite_engine, clock, CONFIG)
    with runtime.sessions.begin() as s:
        token = create_token(s, "calendar", Role.VIEWER, NOW)
    app = create_app(runtime, run_pipeline=False)
    async with serving(app) as base, httpx.AsyncClient(base_url=base) as http:
        async def fetch(path: str) -> bytes:
            answer = await http.get(path, params={"token": token})  # as a calendar app subscribes
            assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/calendar")
            return answer.content

        first = _events(await fetch("/api/v1/oncall/schedules/primary.ics"))
        await clock.advance(timedelta(hours=2))
        again = _events(await fetch("/api/v1/oncall/schedules/primary.ics"))
        await clock.advance(timedelta(days=1))
        later = _events(await fetch("/api/v1/oncall/schedules/primary.ics"))
        mine = _events(await fetch("/api/v1/oncall/users/ana.ics"))
        nobody = await fetch("/api/v1/oncall/users/cto.ics")
        solo = [_events(await fetch("/api/v1/oncall/schedules/solo.ics")) for _ in range(2)]

    # the first and last shifts are whole: Monday 09:00 Berlin to Monday 09:00, not cut at 11:00 UTC
    uid, start, end, summary = first[0]
    assert (start, end) == (datetime(2026, 2, 16, 8, tzinfo=UTC), datetime(2026, 2, 23, 8, tzinfo=UTC))
    assert str(start.tzinfo) == "Europe/Berlin"  # written in the schedule's zone (TZID), its VTIMEZONE given
    assert (first[-1][1], first[-1][2]) == (datetime(2026, 6, 15, 7, tzinfo=UTC),
                                            datetime(2026, 6, 22, 7, tzinfo=UTC))
    assert all(e - s == timedelta(weeks=1) for _, s, e, _ in first)
    assert uid == "primary-ana-20260216T080000Z@ops.acme.test" and summary == "On call: Ana Ruiz (primary)"
    assert again == first  # two hours later: the same events, UIDs included
    assert {u for u, *_ in later} >= {u for u, *_ in first[1:]}  # a day later: the same UIDs still in view
    assert later[0][0] == uid
    assert mine and all(s >= start and "Ana Ruiz" in title for _, s, _, title in mine)
    assert [u for u, *_ in mine] == [u for u, *_, title in first if "Ana Ruiz" in title]

    empty = Calendar.from_ical(nobody)
    assert empty.walk("VEVENT") == []
    assert [c.name for c in empty.subcomponents] == ["VTIMEZONE"]  # RFC 5545: at least one component
    assert str(empty["x-wr-calname"]) == "On call: cto"
    assert b"BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin" in nobody  # cto has no zone of his own: the team's

    # dora has been on call alone for over a year: one shift, cut far out, the same at both fetches
    assert solo[0] == solo[1] and len(solo[0]) == 1
    assert solo[0][0][1] <= NOW - timedelta(days=365) and solo[0][0][2] >= NOW + timedelta(days=365)


def test_whole_shifts_look_further_for_a_shift_at_the_edge() -> None:
    asked: list[tuple[datetime, datetime]] = []
    long = Shift("ana", datetime(2025, 3, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))

    def find(start: datetime, end: datetime) -> list[Shift]:
        asked.append((start, end))
        return [Shift(long.user, max(long.start, start), min(long.end, end))]

    [shift] = feeds.whole_shifts(find, NOW - feeds.FEED_PAST, NOW + feeds.FEED_FUTURE)
    assert len(asked) == 2  # the first span cut it at both edges: asked again, wider
    assert (shift.start, shift.end) == (long.start, long.end)
    assert all(start.weekday() == 0 and start.hour == 0 for start, _ in asked)  # edges on a weekly grid


def test_whole_shifts_ask_once_when_the_window_cuts_no_shift_of_the_span() -> None:
    asked: list[tuple[datetime, datetime]] = []
    monday = datetime(2026, 1, 5, 8, tzinfo=UTC)

    def find(start: datetime, end: datetime) -> list[Shift]:  # weekly turns, cut to [start, end)
        asked.append((start, end))
        turns = [(monday + timedelta(weeks=k), monday + timedelta(weeks=k + 1)) for k in range(40)]
        return [Shift("ana", max(a, start), min(b, end)) for a, b in turns if b > start and a < end]

    found = feeds.whole_shifts(find, NOW - feeds.FEED_PAST, NOW + feeds.FEED_FUTURE)
    assert len(asked) == 1  # the span's own edges cut shifts outside the window: no second look
    assert found[0].start == datetime(2026, 2, 16, 8, tzinfo=UTC) and found[-1].end == datetime(
        2026, 6, 22, 8, tzinfo=UTC)
