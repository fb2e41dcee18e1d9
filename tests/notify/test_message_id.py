"""Every delivery carries a message id that a retry and a re-send after a crash repeat, so the receiver
can drop the copy: a header on webhooks (json, xml, form) and e-mail, the body's last line elsewhere."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from opsbook.clock import FakeClock
from opsbook.notify import apprise_send
from opsbook.notify.apprise_send import MESSAGE_ID_HEADER, SendOutcome, message_id, with_message_id
from opsbook.notify.config import Channel, NotifySettings, RetryPolicy
from opsbook.notify.models import SENDING, SENT, OutboxRow
from opsbook.notify.outbox import enqueue
from opsbook.notify.worker import DeliveryWorker
from tests.notify.conftest import MailBox, Receiver

SETTINGS = NotifySettings(retry=RetryPolicy(jitter=0.0), lease=timedelta(minutes=2))


def _add(sessions: sessionmaker[Session], clock: FakeClock, channel: str, n: int = 1,
         group: str | None = None) -> list[int]:
    with sessions.begin() as s:
        rows = [enqueue(s, channel=channel, subject=f"[P1] FIRING: api/c{i}", body=f"api is down ({i})",
                        kind="firing", now=clock.now(), severity="P1", service="api", group_key=group,
                        group_window=timedelta(0)) for i in range(n)]
        s.flush()
        return [row.id for row in rows if row is not None]


def _ids(receiver: Receiver, path: str) -> list[tuple[int, str | None]]:
    return [(r["status"], r["headers"].get(MESSAGE_ID_HEADER))
            for r in receiver.requests if r["path"] == path]


@pytest.mark.parametrize("scheme", ["json", "xml", "form"])
async def test_a_retried_webhook_carries_the_same_id(
    sessions: sessionmaker[Session], clock: FakeClock, receiver: Receiver, scheme: str
) -> None:
    receiver.fail["/flaky"] = 1
    worker = DeliveryWorker(sessions, clock, [Channel(name="hook", url=receiver.url("/flaky", scheme))],
                            SETTINGS)
    [row_id] = _add(sessions, clock, "hook")
    assert await worker.run_once() == 1  # refused: retried after the backoff
    await clock.advance(timedelta(seconds=5))
    assert await worker.run_once() == 1
    assert _ids(receiver, "/flaky") == [(503, f"opsbook-{row_id}"), (200, f"opsbook-{row_id}")]


async def test_a_message_sent_again_after_a_crash_carries_the_same_id(
    sessions: sessionmaker[Session], clock: FakeClock, receiver: Receiver
) -> None:
    channel = Channel(name="hook", url=receiver.url("/crash"))
    died = asyncio.Event()

    async def sends_then_dies(*args: Any, **kwargs: Any) -> SendOutcome:
        await apprise_send.send(*args, **kwargs)  # delivered, then the process dies before recording it
        died.set()
        await asyncio.Event().wait()
        raise AssertionError("never recorded")

    crashed = DeliveryWorker(sessions, clock, [channel], SETTINGS, sender=sends_then_dies,
                             worker_id="crashed")
    survivor = DeliveryWorker(sessions, clock, [channel], SETTINGS, worker_id="survivor")
    [row_id] = _add(sessions, clock, "hook")
    task = asyncio.create_task(crashed.run_once())
    await asyncio.wait_for(died.wait(), 30)
    task.cancel()
    with sessions() as s:
        assert s.scalar(select(OutboxRow.status)) == SENDING
    await clock.advance(timedelta(minutes=2, seconds=1))  # the lease runs out
    assert await survivor.run_once() == 1
    with sessions() as s:
        assert s.scalar(select(OutboxRow.status)) == SENT
    assert _ids(receiver, "/crash") == [(200, f"opsbook-{row_id}")] * 2  # twice, and the receiver can tell


async def test_a_grouped_message_is_named_by_its_rows(
    sessions: sessionmaker[Session], clock: FakeClock, receiver: Receiver
) -> None:
    worker = DeliveryWorker(sessions, clock, [Channel(name="hook", url=receiver.url("/g"))], SETTINGS)
    ids = _add(sessions, clock, "hook", n=3, group="api:firing")
    assert await worker.run_once() == 3
    assert _ids(receiver, "/g") == [(200, "opsbook-" + ".".join(map(str, ids)))]


async def test_email_carries_the_id_as_a_header(
    sessions: sessionmaker[Session], clock: FakeClock, smtp: MailBox
) -> None:
    worker = DeliveryWorker(sessions, clock, [Channel(name="mail", url=smtp.url())], SETTINGS)
    [row_id] = _add(sessions, clock, "mail")
    await worker.run_once()
    [mail] = smtp.messages
    assert mail[MESSAGE_ID_HEADER] == f"opsbook-{row_id}"
    assert "ref: opsbook" not in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]


async def test_a_channel_without_headers_gets_the_id_as_the_last_line(
    sessions: sessionmaker[Session], clock: FakeClock, receiver: Receiver
) -> None:
    ntfy = Channel(name="push", url=f"ntfy://127.0.0.1:{receiver.port}/ops")
    worker = DeliveryWorker(sessions, clock, [ntfy], SETTINGS)
    [row_id] = _add(sessions, clock, "push")
    assert await worker.run_once() == 1
    [request] = [r for r in receiver.requests if r["status"] == 200]
    assert request["json"]["message"] == f"api is down (0)\n\nref: opsbook-{row_id}"
    assert MESSAGE_ID_HEADER not in request["headers"]


def test_ids_and_where_they_go() -> None:
    assert message_id([7]) == "opsbook-7"
    assert message_id([9, 7, 8]) == "opsbook-7.8.9"
    many = message_id(range(100, 130))
    assert many.startswith("opsbook-100-30x-") and many == message_id(reversed(range(100, 130)))
    assert with_message_id("json://h/x?a=1", "hi", "opsbook-7") == (
        "json://h/x?a=1&%2BX-Opsbook-Message-Id=opsbook-7", "hi")
    assert with_message_id("slack://T/B/C", "hi\n", "opsbook-7") == ("slack://T/B/C", "hi\n\nref: opsbook-7")
