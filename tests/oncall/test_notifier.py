"""The on-call notifier on both databases: handoff briefs at the start of each shift, gap warnings ahead.

The weekly rotation hands over on Monday 09:00 Europe/Berlin; 2026-03-29 is the spring-forward Sunday, so
the Monday 2026-03-30 handoff is at 07:00 UTC where the week before it was at 08:00 UTC. The rotation is
re-cut on Tuesday 2026-03-31: the old layer ends at 00:00, ana stays on until 02:00 (an override), the new
one starts at 09:00, leaving nobody on call 02:00-09:00.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from opsbook.auth.roles import Principal, Role
from opsbook.clock import FakeClock
from opsbook.events import Event, Topic
from opsbook.incidents import lifecycle
from opsbook.notify.messages import GapWarning, HandoffBrief
from opsbook.notify.models import OutboxRow
from opsbook.oncall import service, store
from opsbook.oncall.notifier import OncallNotifier, gap_checks
from opsbook.runtime import Runtime
from tests.support import make_runtime

BERLIN = ZoneInfo("Europe/Berlin")
TEAM = """\
title: Acme
timezone: Europe/Berlin
users:
  - name: ana
    full_name: Ana Ruiz
    contacts:
      - {url: "json://127.0.0.1:9/ana-sms", urgency: [P0, P1]}
      - {url: "json://127.0.0.1:9/ana-mail", urgency: [P2, P3]}
  - {name: ben, full_name: Ben Okafor, contacts: [{url: "json://127.0.0.1:9/ben"}]}
  - {name: chen, full_name: Chen Wei, contacts: [{url: "json://127.0.0.1:9/chen"}]}
  - {name: lead, contacts: [{url: "json://127.0.0.1:9/lead"}]}
channels:
  - {name: ops, url: "json://127.0.0.1:9/ops"}
  - {name: pager, url: "json://127.0.0.1:9/pager"}
routing:
  P3: {action: notify, channels: [ops], business_hours_only: true}
schedules:
  - name: primary
    timezone: Europe/Berlin
    layers:
      - {name: weekly, users: [chen, ana, ben], turn: 1w, handoff: "monday 09:00", start: 2026-03-02,
         end: 2026-03-31}
      - {name: tuesdays, users: [ben, chen, ana], turn: 1w, handoff: "09:00", start: 2026-03-31}
  - name: business
    timezone: Europe/Berlin
    layers:
      - name: days
        users: [lead]
        turn: 1d
        handoff: "09:00"
        start: 2026-03-02
        restrictions: [{days: [mon, tue, wed, thu, fri], from: "09:00", to: "18:00"}]
"""


def berlin(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN).astimezone(UTC)


MONDAY_0900 = berlin(2026, 3, 30, 9, 0)  # CEST: 07:00 UTC
FRIDAY_0900 = berlin(2026, 3, 27, 9, 0)  # CET: 08:00 UTC
ADMIN = Principal("admin", Role.ADMIN)
HANDOFF_KIND = HandoffBrief.kind
GAP_KIND = GapWarning.kind


@pytest.fixture
def runtime(engine: Engine) -> Runtime:
    rt = make_runtime(engine, FakeClock(FRIDAY_0900 - timedelta(hours=1)), TEAM)
    # ana covers the first two hours after the old rotation ends
    service.add_override(rt, ADMIN, "primary", "ana", berlin(2026, 3, 31, 0, 0), berlin(2026, 3, 31, 2, 0),
                         reason="re-cut")
    return rt


def rows(rt: Runtime, kind: str) -> list[OutboxRow]:
    with rt.sessions() as s:
        return list(s.scalars(select(OutboxRow).where(OutboxRow.kind == kind).order_by(OutboxRow.id)))


def briefs_to(rt: Runtime, user: str) -> list[OutboxRow]:
    return [r for r in rows(rt, HANDOFF_KIND) if r.refs.get("user") == user]


def test_monday_handoff_across_dst_is_sent_once_at_0900_local(runtime: Runtime) -> None:
    assert datetime(2026, 3, 30, 7, 0, tzinfo=UTC) == MONDAY_0900
    with runtime.sessions.begin() as s:
        lifecycle.open_incident(s, runtime.config, berlin(2026, 3, 28, 14, 0), title="Checkout latency high",
                                severity="P2", service="checkout", announce=False, page=False)
        chen = Principal("chen", Role.RESPONDER)
        store.add_handoff_note(s, runtime.config, berlin(2026, 3, 30, 8, 30), chen, "primary",
                               "Payments DB failover is half done.\nWatch the replica lag.")
    notifier = OncallNotifier(runtime)

    # one minute before: nothing, and the next wake-up is the handoff at 09:00 CEST (07:00 UTC, not 08:00)
    assert notifier.tick(MONDAY_0900 - timedelta(minutes=1)) == MONDAY_0900
    assert rows(runtime, HANDOFF_KIND) == []

    nxt = notifier.tick(MONDAY_0900)
    (brief,) = briefs_to(runtime, "ana")
    assert brief.channel == "contact:ana:1"  # the P3 (e-mail) contact, not the SMS one
    assert brief.created_at == MONDAY_0900 and brief.next_attempt_at == MONDAY_0900
    assert brief.dedup_key == f"handoff:primary:{MONDAY_0900.isoformat()}:ana"
    assert "you are on call for primary until Tue 2026-03-31 02:00" in brief.subject
    body = brief.body
    assert "Ana Ruiz, you are on call for primary from Mon 2026-03-30 09:00 until Tue 2026-03-31 02:00 " \
           "(Europe/Berlin)." in body
    assert "Handing over: Chen Wei (on call since Mon 2026-03-23 09:00)." in body
    assert "Next: nobody until Tue 2026-03-31 09:00 (Ben Okafor)." in body
    assert "Open incidents (1):" in body and "P2 triggered [checkout]: Checkout latency high" in body
    assert "From Chen Wei, Mon 2026-03-30 08:30:\n    Payments DB failover is half done.\n" \
           "    Watch the replica lag." in body
    # the business-hours schedule's shift began too: its user is told about that one
    assert [r.refs["schedule"] for r in briefs_to(runtime, "lead")] == ["business"]
    assert briefs_to(runtime, "chen") == [] and briefs_to(runtime, "ben") == []
    # next: the business shift ends at 18:00 (no brief), the next start is ben's Tuesday 09:00 shift,
    # but the daily gap check (tomorrow 09:00) and lead's next day come at the same time
    assert nxt == berlin(2026, 3, 31, 9, 0)

    # ticking again, and a restarted notifier, within the hour: nothing is sent twice
    notifier.tick(MONDAY_0900 + timedelta(minutes=5))
    OncallNotifier(runtime).tick(MONDAY_0900 + timedelta(minutes=10))
    assert len(briefs_to(runtime, "ana")) == 1 and len(briefs_to(runtime, "lead")) == 1


def test_restart_after_the_handoff_catches_up_within_the_hour(runtime: Runtime) -> None:
    # the process was down at 09:00 and starts at 09:05: the brief still goes out, once
    OncallNotifier(runtime).tick(MONDAY_0900 + timedelta(minutes=5))
    (brief,) = briefs_to(runtime, "ana")
    assert brief.created_at == MONDAY_0900 + timedelta(minutes=5)
    assert brief.dedup_key == f"handoff:primary:{MONDAY_0900.isoformat()}:ana"
    assert "Open incidents: none." in brief.body and "Handoff notes: none." in brief.body
    OncallNotifier(runtime).tick(MONDAY_0900 + timedelta(minutes=50))
    assert len(briefs_to(runtime, "ana")) == 1


def test_a_shift_begun_over_an_hour_ago_is_not_announced(runtime: Runtime) -> None:
    OncallNotifier(runtime).tick(MONDAY_0900 + timedelta(hours=1, minutes=1))
    assert rows(runtime, HANDOFF_KIND) == []


def test_a_brief_after_a_gap_says_nobody_handed_over(runtime: Runtime) -> None:
    tuesday = berlin(2026, 3, 31, 9, 0)
    OncallNotifier(runtime).tick(tuesday)
    (brief,) = briefs_to(runtime, "ben")
    assert "Nobody was on call before you since Tue 2026-03-31 02:00 (last: Ana Ruiz)." in brief.body
    assert "Next: Chen Wei takes over at Tue 2026-04-07 09:00." in brief.body


def test_a_gap_next_week_is_warned_on_friday_once(runtime: Runtime) -> None:
    notifier = OncallNotifier(runtime)
    before = FRIDAY_0900 - timedelta(hours=1)
    assert notifier.tick(before) == FRIDAY_0900  # the first gap check
    assert rows(runtime, GAP_KIND) == []

    notifier.tick(FRIDAY_0900)
    (warning,) = rows(runtime, GAP_KIND)
    assert warning.channel == "ops"  # where P3 notifications go (not every channel)
    assert warning.severity == "P3" and warning.next_attempt_at == FRIDAY_0900  # business hours: now
    assert warning.dedup_key == f"gap:primary:{berlin(2026, 3, 31, 2, 0).isoformat()}"
    assert "nobody is on call on primary Tue 2026-03-31 02:00 - 09:00 (Europe/Berlin)" in warning.body
    assert "That is 7 h without anyone to page." in warning.body
    assert ("Fill it with an override (one of chen, ana, ben), e.g.\n"
            "  opsbook oncall override add primary chen --from 2026-03-31T02:00 --to 2026-03-31T09:00"
            in warning.body)
    assert "on-call gap on primary from Tue 2026-03-31 02:00" in warning.subject

    # later the same hour, a restarted process, the next days' checks: never warned again
    notifier.tick(FRIDAY_0900 + timedelta(minutes=30))
    OncallNotifier(runtime).tick(FRIDAY_0900 + timedelta(minutes=5))
    for day in range(1, 5):
        OncallNotifier(runtime).tick(FRIDAY_0900 + timedelta(days=day))
    assert len(rows(runtime, GAP_KIND)) == 1
    # the business-hours schedule's nights and weekend are by design, never warned about
    assert all(r.refs["schedule"] == "primary" for r in rows(runtime, GAP_KIND))


def test_gap_check_outside_business_hours_is_held_until_they_begin(runtime: Runtime) -> None:
    saturday = berlin(2026, 3, 28, 9, 0)
    OncallNotifier(runtime).tick(saturday)
    (warning,) = rows(runtime, GAP_KIND)
    assert warning.created_at == saturday
    assert warning.next_attempt_at == MONDAY_0900  # business hours begin Monday 09:00 (before the gap)


def test_a_covered_gap_is_not_warned(runtime: Runtime) -> None:
    service.add_override(runtime, ADMIN, "primary", "chen", berlin(2026, 3, 31, 2, 0),
                         berlin(2026, 3, 31, 9, 0))
    OncallNotifier(runtime).tick(FRIDAY_0900)
    assert rows(runtime, GAP_KIND) == []


def test_gap_checks_are_at_0900_local_across_dst() -> None:
    tz = "Europe/Berlin"
    noon = berlin(2026, 3, 29, 12, 0)
    assert gap_checks(noon, tz) == (berlin(2026, 3, 29, 9, 0), berlin(2026, 3, 30, 9, 0))
    last, nxt = gap_checks(berlin(2026, 3, 29, 8, 59), tz)  # the night the clocks went forward
    assert (last, nxt) == (datetime(2026, 3, 28, 8, 0, tzinfo=UTC), datetime(2026, 3, 29, 7, 0, tzinfo=UTC))
    assert nxt - last == timedelta(hours=23)


def _count(rt: Runtime) -> int:
    with Session(rt.engine) as s:
        return len(list(s.scalars(select(OutboxRow.id).where(OutboxRow.kind == HANDOFF_KIND))))


async def _until(predicate: object, what: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def test_run_wakes_at_the_handoff_and_survives_a_failing_tick(engine: Engine) -> None:
    clock = FakeClock(MONDAY_0900 - timedelta(minutes=2))
    rt = make_runtime(engine, clock, TEAM)
    woken: list[Event] = []
    rt.bus.subscribe(Topic.OUTBOX, woken.append)  # what wakes the delivery worker
    notifier = OncallNotifier(rt)
    real_tick = notifier.tick
    calls: list[datetime] = []

    def flaky(now: datetime) -> datetime:
        calls.append(now)
        if len(calls) == 1:
            raise RuntimeError("database away")
        return real_tick(now)

    notifier.tick = flaky  # type: ignore[method-assign]
    task = notifier.start()
    try:
        await _until(lambda: len(calls) == 1, "the first (failing) tick")
        await clock.advance(timedelta(seconds=30))  # retried after RETRY_AFTER
        await _until(lambda: len(calls) == 2, "the retry")
        assert _count(rt) == 0 and woken == []
        await clock.advance_to(MONDAY_0900)
        await _until(lambda: len(calls) == 3, "the tick at the handoff")
        assert calls[-1] == MONDAY_0900
        await _until(lambda: _count(rt) == 2, "the briefs (ana, lead)")
        await _until(lambda: bool(woken), "the delivery worker's wake-up")
        assert notifier.loop.health.up and notifier.loop.health.restarts == 1
    finally:
        await notifier.stop()
    assert task.done()
