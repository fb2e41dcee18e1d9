"""Scenario 4 of SCENARIOS.md, "The Monday handoff", end to end on a fake clock.

The weekly rotation hands over on Monday at 09:00 Europe/Berlin, in the week the clocks go forward
(Sunday 2026-03-29). On Friday at 09:00 the team is warned of a gap next week: the rotation is re-cut on
Tuesday, the old one ends at midnight, ana stays until 02:00 and the new one starts at 09:00. Over the
weekend opsbook is stopped; an incident is opened; on Monday morning chen, going off call, writes a
handoff note. opsbook starts again at 08:50, and at 09:00 ana gets the brief on her e-mail contact: she
is on call, until when, chen hands over, the open incident, chen's note. The gap is not warned again,
and a restart within the hour does not repeat the brief.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from opsbook.auth.roles import Principal, Role
from opsbook.clock import FakeClock
from opsbook.incidents import service as incidents
from opsbook.notify.messages import GapWarning, HandoffBrief
from opsbook.notify.models import PENDING, SENDING, OutboxRow
from opsbook.oncall import service as oncall
from opsbook.pipeline import Pipeline
from opsbook.runtime import Runtime
from tests.e2e.conftest import eventually
from tests.notify.conftest import Receiver
from tests.support import make_runtime

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN).astimezone(UTC)


FRIDAY_0900 = berlin(2026, 3, 27, 9)  # CET, 08:00 UTC
MONDAY_0900 = berlin(2026, 3, 30, 9)  # CEST, 07:00 UTC


def config(receiver: Receiver) -> str:
    return f"""
title: Acme
timezone: Europe/Berlin
users:
  - name: ana
    full_name: Ana Ruiz
    contacts:
      - {{url: "{receiver.url("/ana-sms")}", urgency: [P0, P1]}}
      - {{url: "{receiver.url("/ana-mail")}", urgency: [P2, P3]}}
  - {{name: ben, full_name: Ben Okafor, contacts: [{{url: "{receiver.url("/ben")}"}}]}}
  - {{name: chen, full_name: Chen Wei, contacts: [{{url: "{receiver.url("/chen")}"}}]}}
channels:
  - {{name: ops, url: "{receiver.url("/ops")}"}}
routing:
  P3: {{action: notify, channels: [ops], business_hours_only: true}}
grouping: {{window: 0s}}
services:
  - name: checkout
schedules:
  - name: primary
    timezone: Europe/Berlin
    layers:
      - {{name: weekly, users: [chen, ana, ben], turn: 1w, handoff: "monday 09:00", start: 2026-03-02,
          end: 2026-03-31}}
      - {{name: tuesdays, users: [ben, chen, ana], turn: 1w, handoff: "09:00", start: 2026-03-31}}
"""


def gap_warnings(receiver: Receiver) -> list[dict[str, str]]:
    return [b for b in receiver.bodies("/ops") if "on-call gap" in b["title"]]


def outbox(runtime: Runtime, kind: str) -> list[OutboxRow]:
    with runtime.sessions() as s:
        return list(s.scalars(select(OutboxRow).where(OutboxRow.kind == kind).order_by(OutboxRow.id)))


def due(runtime: Runtime, now: datetime) -> list[int]:
    with runtime.sessions() as s:
        return list(s.scalars(select(OutboxRow.id).where(OutboxRow.status.in_([PENDING, SENDING]),
                                                         OutboxRow.next_attempt_at <= now)))


async def run_until(runtime: Runtime, clock: FakeClock, until: datetime) -> Pipeline:
    """Start opsbook (a new process, as after a restart), let it run until `until`, deliver what is due."""
    pipeline = Pipeline(runtime)
    await pipeline.start()
    # what was queued while it was down goes out first (claimed is not yet sent): a send still in flight
    # when the clock jumps ahead by minutes would time out on that clock (and raise a self-alert incident
    # the brief would list)
    await eventually(lambda: not due(runtime, clock.now()), "the queued notifications sent")
    await clock.advance_to(until)
    await pipeline.notifier.run_once()
    return pipeline


async def test_the_monday_handoff(sqlite_engine: Engine, receiver: Receiver) -> None:
    clock = FakeClock(berlin(2026, 3, 26, 17))
    runtime = make_runtime(sqlite_engine, clock, config(receiver))
    # Thursday: the re-cut is planned; ana stays on until 02:00
    oncall.add_override(runtime, Principal("admin", Role.ADMIN), "primary", "ana", berlin(2026, 3, 31, 0),
                        berlin(2026, 3, 31, 2), reason="rotation re-cut")

    # Friday: opsbook runs from 08:30; its 09:00 check warns of next week's gap on the P3 channel
    await clock.advance_to(berlin(2026, 3, 27, 8, 30))
    pipeline = await run_until(runtime, clock, FRIDAY_0900)
    await eventually(lambda: bool(gap_warnings(receiver)), "the gap warning")
    (warning,) = gap_warnings(receiver)
    assert "nobody is on call on primary Tue 2026-03-31 02:00 - 09:00 (Europe/Berlin)" in warning["message"]
    assert [r.created_at for r in outbox(runtime, GapWarning.kind)] == [FRIDAY_0900]
    await pipeline.stop()

    # the weekend, opsbook down: an incident is opened, and chen, going off call, writes the note
    await clock.advance_to(berlin(2026, 3, 28, 14))
    chen = Principal("chen", Role.RESPONDER)
    incidents.open_incident(runtime, chen, title="Checkout latency high", severity="P2", service="checkout")
    await clock.advance_to(berlin(2026, 3, 30, 8, 40))
    oncall.add_handoff_note(runtime, chen, "primary",
                            "Checkout latency: the payments DB replica lags, failover is half done.")

    # Monday: opsbook starts at 08:50; at 09:00 local (07:00 UTC after the change) ana is briefed
    await clock.advance_to(berlin(2026, 3, 30, 8, 50))
    pipeline = await run_until(runtime, clock, berlin(2026, 3, 30, 8, 59))
    assert receiver.bodies("/ana-mail") == []  # not before 09:00
    await clock.advance_to(MONDAY_0900)
    await pipeline.notifier.run_once()
    await eventually(lambda: bool(receiver.bodies("/ana-mail")), "ana's handoff brief")
    (brief,) = receiver.bodies("/ana-mail")
    assert brief["title"] == "Acme: you are on call for primary until Tue 2026-03-31 02:00 (Europe/Berlin)"
    text = brief["message"]
    assert "Ana Ruiz, you are on call for primary from Mon 2026-03-30 09:00" in text
    assert "Handing over: Chen Wei (on call since Mon 2026-03-23 09:00)." in text
    assert "Next: nobody until Tue 2026-03-31 09:00 (Ben Okafor)." in text
    assert "Open incidents (1):" in text and "P2 triggered [checkout]: Checkout latency high" in text
    assert "From Chen Wei, Mon 2026-03-30 08:40:" in text
    assert "the payments DB replica lags, failover is half done." in text
    (row,) = outbox(runtime, HandoffBrief.kind)
    assert row.created_at == MONDAY_0900 == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)

    # a restart within the hour sends nothing twice; the gap was warned on Friday only
    await clock.advance(timedelta(minutes=10))
    await pipeline.stop()
    pipeline = await run_until(runtime, clock, berlin(2026, 3, 30, 9, 40))
    await pipeline.stop()
    assert len(receiver.bodies("/ana-mail")) == 1
    assert len(outbox(runtime, HandoffBrief.kind)) == 1
    assert all(receiver.bodies(path) == [] for path in ("/ana-sms", "/chen", "/ben"))
    assert len(gap_warnings(receiver)) == 1 and len(outbox(runtime, GapWarning.kind)) == 1
