"""Webhook subscribers against a local receiver, on the fake clock: the confirmation POSTed to the webhook,
the maintenance notice at exactly `maintenance_lead` before the window, nothing about an incident of a
service in maintenance (not during the window, not after it), and the other services still told; a
webhook that refuses every message is given up on, counted for admins, and raises no alert."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from opsbook.alerts.models import AlertRow
from opsbook.alerts.selfalert import SELF
from opsbook.auth.roles import SYSTEM
from opsbook.clock import FakeClock
from opsbook.incidents import service as incidents
from opsbook.silences import service as silences
from opsbook.subscribers import service
from opsbook.subscribers.models import AnnouncementRow
from tests.notify.conftest import MailBox, Receiver
from tests.subscribers.support import START, link, runtime_of, served, subscribers

HOOK = "/hooks/status"


async def test_maintenance_notice_at_the_lead_and_silence_during_it(
    sqlite_engine: Engine, smtp: MailBox, receiver: Receiver
) -> None:
    clock = FakeClock(START)
    runtime = runtime_of(sqlite_engine, clock, smtp.port)
    async with served(runtime) as site:
        answer = await site.subscribe(f"{receiver.base}{HOOK}?token=abc123", kind="webhook")
        assert answer.status_code == 200
        await site.settle(lambda: len(receiver.bodies(HOOK)) == 1)
        [asked] = receiver.bodies(HOOK)
        assert asked["title"] == "Acme status: confirm your subscription"
        assert receiver.requests[0]["headers"]["X-Opsbook-Message-Id"].startswith("opsbook-")
        assert (await site.http.post(link(asked["message"], "confirm"))).status_code == 200
        [row] = subscribers(sqlite_engine)
        assert (row.status, row.services) == ("active", [])

        starts = START + timedelta(minutes=12)  # the lead is 10 min: its notice is due at 09:02
        silences.add_maintenance(runtime, SYSTEM, ["api"], starts_at=starts, duration=timedelta(minutes=20),
                                 title="Database upgrade", description="Writes pause for a minute.")
        await site.settle()
        await clock.advance_to(starts - timedelta(minutes=10, seconds=1))
        await site.settle()
        assert len(receiver.bodies(HOOK)) == 1  # one second early: nothing yet
        await clock.advance_to(starts - timedelta(minutes=10))
        await site.settle(lambda: len(receiver.bodies(HOOK)) == 2)
        notice = receiver.bodies(HOOK)[1]
        assert notice["title"] == "[Acme status] Scheduled maintenance: Database upgrade"
        assert "Affects: api" in notice["message"] and "Writes pause for a minute." in notice["message"]
        assert "/status/maintenance.ics" in notice["message"] and "/status/unsubscribe/" in notice["message"]
        assert clock.now() == starts - timedelta(minutes=10)

        await clock.advance_to(starts + timedelta(minutes=5))
        await site.settle()
        during = incidents.open_incident(runtime, SYSTEM, title="api 500s", severity="P2", service="api")
        incidents.publish_incident(runtime, SYSTEM, during.id, title="API errors", message="Looking.")
        elsewhere = incidents.open_incident(runtime, SYSTEM, title="web 500s", severity="P2", service="web")
        incidents.publish_incident(runtime, SYSTEM, elsewhere.id, title="Website errors", message="Looking.")
        await site.settle(lambda: len(receiver.bodies(HOOK)) == 3)
        await site.settle()
        told = receiver.bodies(HOOK)[2]
        assert told["title"] == "[Acme status] Investigating: Website errors"
        assert len(receiver.bodies(HOOK)) == 3  # nothing about api during its maintenance

        await clock.advance_to(starts + timedelta(minutes=21))  # the window is over
        incidents.post_public_update(runtime, SYSTEM, during.id, "Fixed the cause.", status="monitoring")
        incidents.resolve_incident(runtime, SYSTEM, during.id)
        await site.settle()
        await site.settle()
        assert len(receiver.bodies(HOOK)) == 3  # it began in the maintenance: its end is not news either
    with Session(sqlite_engine) as s:
        about = AnnouncementRow.key.like(f"incident:{during.id}:%")
        quiet = s.scalars(select(AnnouncementRow).where(about)).all()
    assert quiet and all(a.told == 0 and a.note == "in maintenance" for a in quiet)


async def test_a_refusing_webhook_is_counted_for_admins_and_alerts_nobody(
    sqlite_engine: Engine, smtp: MailBox, receiver: Receiver
) -> None:
    clock = FakeClock(START)
    extra = "notifications:\n  retry: {base: 10s, jitter: 0, max_attempts: 2}\n"
    runtime = runtime_of(sqlite_engine, clock, smtp.port, extra)
    async with served(runtime) as site:
        await site.subscribe(f"{receiver.base}{HOOK}", kind="webhook", services=("api",))
        await site.settle(lambda: len(receiver.bodies(HOOK)) == 1)
        assert (await site.http.post(link(receiver.bodies(HOOK)[0]["message"], "confirm"))).status_code == 200
        receiver.always_fail.add(HOOK)
        opened = incidents.open_incident(runtime, SYSTEM, title="api 500s", severity="P2", service="api")
        incidents.publish_incident(runtime, SYSTEM, opened.id, title="API errors", message="Looking.")
        def tries() -> int:  # recorded, not only received: the retry is due 10 s after the record
            return service.views(runtime)[0].delivery.failed_attempts

        await site.settle(lambda: tries() == 1)
        await clock.advance(timedelta(seconds=10))
        await site.settle(lambda: tries() == 2)
        await site.settle(lambda: service.views(runtime)[0].delivery.failed == 1)
        assert len([r for r in receiver.requests if r["status"] == 500]) == 2
        [view] = service.views(runtime)
        assert (view.delivery.sent, view.delivery.failed, view.delivery.failed_attempts) == (1, 1, 2)
    with Session(sqlite_engine) as s:
        alerts = s.scalars(select(AlertRow).where(AlertRow.service == SELF)).all()
    assert alerts == []  # a subscriber's broken webhook is not opsbook's trouble
