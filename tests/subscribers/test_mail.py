"""E-mail subscribers end to end, against a real SMTP server (aiosmtpd), on SQLite and PostgreSQL: the
double opt-in, the incident's opening, public update and resolution (public text only, every message with
its unsubscribe link and RFC 8058 headers), and the one-click unsubscribe that ends them."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from opsbook.auth.models import AuditRow
from opsbook.auth.roles import SYSTEM
from opsbook.clock import FakeClock
from opsbook.incidents import service as incidents
from opsbook.notify.models import OutboxRow
from tests.notify.conftest import MailBox
from tests.subscribers.support import ADDRESS, START, body, link, runtime_of, served, subscribers, to


async def test_double_opt_in_incident_messages_and_one_click_unsubscribe(
    engine: Engine, smtp: MailBox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    clock = FakeClock(START)
    runtime = runtime_of(engine, clock, smtp.port)
    async with served(runtime) as site:
        answer = await site.subscribe(ADDRESS, services=("api",))
        assert answer.status_code == 200 and "Check your inbox" in answer.text
        await site.settle(lambda: len(to(smtp.messages, ADDRESS)) == 1)
        [confirmation] = to(smtp.messages, ADDRESS)
        assert "confirm your subscription" in str(confirmation["Subject"])
        [row] = subscribers(engine)
        assert (row.status, row.services) == ("pending", ["api"])

        # nothing is sent to a subscription not confirmed yet
        opened = incidents.open_incident(runtime, SYSTEM, title="db-7 disk full on the primary",
                                         severity="P1", service="api")
        incidents.add_incident_note(runtime, SYSTEM, opened.id, "INTERNAL: bob rotated the root password")
        incidents.publish_incident(runtime, SYSTEM, opened.id, title="Checkout errors",
                                   message="Some payments fail; we are looking into it.")
        await site.settle()
        assert len(to(smtp.messages, ADDRESS)) == 1

        confirm = link(body(confirmation), "confirm")
        page = await site.http.get(confirm)  # a scanner opening the link confirms nothing
        assert page.status_code == 200 and f'action="{confirm}"' in page.text
        assert subscribers(engine)[0].status == "pending"
        done = await site.http.post(confirm)
        assert done.status_code == 200 and "You are subscribed" in done.text
        assert subscribers(engine)[0].status == "active"

        incidents.post_public_update(runtime, SYSTEM, opened.id, "The cause is found; a fix is rolling out.",
                                     status="identified")
        await site.settle(lambda: len(to(smtp.messages, ADDRESS)) == 2)
        update = to(smtp.messages, ADDRESS)[1]
        assert str(update["Subject"]) == "[Acme status] Identified: Checkout errors"
        text = body(update)
        assert "The cause is found; a fix is rolling out." in text
        assert "Affects: api" in text and "CET" in text  # the team's zone, named
        for internal in ("db-7 disk full", "INTERNAL", "root password", "billing-db"):
            assert internal not in text and internal not in str(update["Subject"])
        unsubscribe = link(text, "unsubscribe")
        assert update["List-Unsubscribe"] == f"<https://status.acme.test{unsubscribe}>"
        assert update["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

        incidents.resolve_incident(runtime, SYSTEM, opened.id, message="INTERNAL: replaced the disk")
        await site.settle(lambda: len(to(smtp.messages, ADDRESS)) == 3)
        resolved = to(smtp.messages, ADDRESS)[2]
        assert str(resolved["Subject"]) == "[Acme status] Resolved: Checkout errors"
        assert "This incident has been resolved." in body(resolved) and "INTERNAL" not in body(resolved)

        # an incident of a service not chosen is not sent
        other = incidents.open_incident(runtime, SYSTEM, title="web down", severity="P2", service="web")
        incidents.publish_incident(runtime, SYSTEM, other.id, title="Website slow", message="Looking.")
        await site.settle()
        assert len(to(smtp.messages, ADDRESS)) == 3

        # one click, as a mail client posts it (RFC 8058): no cookie, no CSRF token
        gone = await site.http.post(unsubscribe, content=b"List-Unsubscribe=One-Click",
                                    headers={"content-type": "application/x-www-form-urlencoded"})
        assert gone.status_code == 200 and "unsubscribed" in gone.text
        assert subscribers(engine) == []
        again = await site.http.post(unsubscribe)  # the same link again: nothing left to do, no error
        assert again.status_code == 200

        third = incidents.open_incident(runtime, SYSTEM, title="api again", severity="P2", service="api")
        incidents.publish_incident(runtime, SYSTEM, third.id, title="API errors", message="Again.")
        await site.settle()
        assert len(to(smtp.messages, ADDRESS)) == 3

        status = await site.http.get("/status.json")
        assert ADDRESS not in status.text
    with Session(engine) as s:
        actions = [a for (a,) in s.execute(select(AuditRow.action).where(AuditRow.action.like("subscriber.%"))
                                           .order_by(AuditRow.id))]
        sent = list(s.scalars(select(OutboxRow).where(OutboxRow.channel.like("subscriber:%"))))
    assert actions == ["subscriber.request", "subscriber.confirm", "subscriber.unsubscribe"]
    assert {r.kind for r in sent} == {"status_confirm", "status_incident"}
    ours = [r for r in caplog.records if not r.name.startswith("mail.log")]  # not the test SMTP server's
    assert ours and not [r for r in ours if ADDRESS in r.getMessage()]
