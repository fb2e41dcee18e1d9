"""Delivery end to end through Apprise: a real webhook receiver and a real SMTP server, a fake clock."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from opsbook.clock import FakeClock
from opsbook.notify.apprise_send import SendOutcome
from opsbook.notify.config import Channel, NotifySettings, RetryPolicy
from opsbook.notify.models import FAILED, PENDING, SENDING, SENT, AttemptRow, OutboxRow
from opsbook.notify.outbox import enqueue
from opsbook.notify.worker import DeliveryWorker, GiveUp
from tests.notify.conftest import MailBox, Receiver

TOKEN = "s3cr3tT0ken99xyz"
NO_JITTER = RetryPolicy(jitter=0.0)


def _settings(**retry: Any) -> NotifySettings:
    return NotifySettings(retry=RetryPolicy(**{"jitter": 0.0, **retry}))


def _add(sessions: sessionmaker[Session], clock: FakeClock, channel: str, n: int = 1, **kw: Any) -> list[int]:
    ids = []
    with sessions.begin() as s:
        for i in range(n):
            row = enqueue(
                s,
                channel=channel,
                subject=kw.get("subject", f"[P1] FIRING: api/health: down {i}"),
                body=kw.get("body", f"api is down ({i})"),
                kind=kw.get("kind", "firing"),
                now=clock.now(),
                severity="P1",
                service="api",
                group_key=kw.get("group_key"),
                group_window=kw.get("group_window", timedelta(0)),
            )
            assert row is not None
            ids.append(row.id)
    return ids


def _rows(sessions: sessionmaker[Session]) -> list[OutboxRow]:
    with sessions() as s:
        rows = list(s.scalars(select(OutboxRow).order_by(OutboxRow.id)))
        for r in rows:
            _ = r.attempt_rows
        return rows


async def test_webhook_delivery_records_a_successful_attempt(
    sessions: sessionmaker[Session], clock: FakeClock, receiver: Receiver
) -> None:
    channel = Channel(name="hook", url=receiver.url(f"/hook/{TOKEN}"))
    worker = DeliveryWorker(sessions, clock, [channel], _settings())
    [row_id] = _add(sessions, clock, "hook", subject="[P1] FIRING: api/health: down", body="api is down")

    assert await worker.run_once() == 1

    [got] = receiver.bodies(f"/hook/{TOKEN}")
    assert got["title"] == "[P1] FIRING: api/health: down"
    assert got["message"] == "api is down"
    assert got["type"] == "failure"  # a firing P1 is a failure-type message
    [row] = _rows(sessions)
    assert (row.id, row.status, row.sent_at, row.attempts) == (row_id, SENT, clock.now(), 0)
    [attempt] = row.attempt_rows
    assert attempt.ok and attempt.error == "" and attempt.ts == clock.now() and attempt.duration_ms > 0
    assert await worker.run_once() == 0  # nothing is sent twice


async def test_failing_channel_is_retried_with_backoff_until_it_succeeds(
    sessions: sessionmaker[Session], clock: FakeClock, receiver: Receiver
) -> None:
    path = f"/flaky/{TOKEN}"
    receiver.fail[path] = 3
    worker = DeliveryWorker(sessions, clock, [Channel(name="flaky", url=receiver.url(path))], _settings())
    start = clock.now()
    _add(sessions, clock, "flaky")

    assert await worker.run_once() == 1  # attempt 1 fails: retry after 5 s
    [row] = _rows(sessions)
    assert (row.status, row.attempts, row.next_attempt_at) == (PENDING, 1, start + timedelta(seconds=5))
    assert "503" in row.last_error

    await clock.advance(timedelta(seconds=4))
    assert await worker.run_once() == 0  # not due yet
    await clock.advance(timedelta(seconds=1))
    assert await worker.run_once() == 1  # attempt 2 fails: retry after 10 s
    await clock.advance(timedelta(seconds=10))
    assert await worker.run_once() == 1  # attempt 3 fails: retry after 20 s
    [row] = _rows(sessions)
    assert row.next_attempt_at == start + timedelta(seconds=35)
    await clock.advance(timedelta(seconds=20))
    assert await worker.run_once() == 1  # attempt 4 succeeds

    [row] = _rows(sessions)
    assert row.status == SENT
    offsets = [(a.ts - start).total_seconds() for a in row.attempt_rows]
    assert offsets == [0, 5, 15, 35]
    assert [a.ok for a in row.attempt_rows] == [False, False, False, True]
    for failed in row.attempt_rows[:3]:
        assert "503" in failed.error and TOKEN not in failed.error
    assert len(receiver.bodies(path)) == 1
    assert len([r for r in receiver.requests if r["path"] == path]) == 4


async def test_gives_up_after_max_attempts_and_calls_the_hook_in_the_same_transaction(
    sessions: sessionmaker[Session], clock: FakeClock, receiver: Receiver
) -> None:
    path = f"/down/{TOKEN}"
    receiver.always_fail.add(path)
    given_up: list[GiveUp] = []

    def on_give_up(session: Session, gave_up: GiveUp) -> None:
        given_up.append(gave_up)
        # what the hook adds commits with the failure: here, a message to another channel about it
        enqueue(
            session,
            channel="backup",
            subject=f"opsbook could not deliver to {gave_up.channel}",
            body=gave_up.last_error,
            kind="firing",
            now=clock.now(),
            dedup_key=f"give-up:{gave_up.outbox_id}",
        )

    worker = DeliveryWorker(
        sessions,
        clock,
        [Channel(name="down", url=receiver.url(path))],
        _settings(max_attempts=3),
        on_give_up=on_give_up,
    )
    [row_id] = _add(sessions, clock, "down")
    for wait in (0, 5, 10):
        await clock.advance(timedelta(seconds=wait))
        assert await worker.run_once() == 1
        assert len(given_up) == (1 if wait == 10 else 0)

    row, alert = _rows(sessions)
    assert (row.status, row.attempts) == (FAILED, 3)
    assert [a.ok for a in row.attempt_rows] == [False, False, False]
    [gave_up] = given_up
    assert (gave_up.outbox_id, gave_up.channel, gave_up.attempts) == (row_id, "down", 3)
    assert "500" in gave_up.last_error and TOKEN not in gave_up.last_error
    assert (alert.channel, alert.dedup_key, alert.status) == ("backup", f"give-up:{row_id}", PENDING)
    await clock.advance(timedelta(hours=1))
    assert await worker.run_once() == 1  # only the give-up message ("backup" is unknown here: it fails)
    assert _rows(sessions)[0].status == FAILED


async def test_gives_up_after_max_age(
    sessions: sessionmaker[Session], clock: FakeClock, receiver: Receiver
) -> None:
    path = "/old"
    receiver.always_fail.add(path)
    calls: list[GiveUp] = []
    worker = DeliveryWorker(
        sessions,
        clock,
        [Channel(name="old", url=receiver.url(path))],
        _settings(max_age=timedelta(seconds=30), max_attempts=100),
        on_give_up=lambda _s, g: calls.append(g),
    )
    _add(sessions, clock, "old")
    for _ in range(10):
        await worker.run_once()
        await clock.advance(timedelta(seconds=10))
    [row] = _rows(sessions)
    assert row.status == FAILED and len(calls) == 1
    assert (row.attempt_rows[-1].ts - row.created_at) >= timedelta(seconds=30)


async def test_give_up_hook_that_raises_does_not_undo_the_failure(
    sessions: sessionmaker[Session], clock: FakeClock, receiver: Receiver
) -> None:
    receiver.always_fail.add("/x")

    def broken(session: Session, gave_up: GiveUp) -> None:
        session.add(AttemptRow(outbox_id=gave_up.outbox_id, ts=clock.now(), ok=True, error="hook row"))
        session.flush()
        raise RuntimeError("hook bug")

    worker = DeliveryWorker(
        sessions,
        clock,
        [Channel(name="x", url=receiver.url("/x"))],
        _settings(max_attempts=1),
        on_give_up=broken,
    )
    _add(sessions, clock, "x")
    await worker.run_once()
    [row] = _rows(sessions)
    assert row.status == FAILED
    # the hook's savepoint was rolled back, the failure itself committed
    assert [a.error for a in row.attempt_rows if a.error == "hook row"] == []


async def test_email_through_a_real_smtp_server(
    sessions: sessionmaker[Session], clock: FakeClock, smtp: MailBox
) -> None:
    worker = DeliveryWorker(sessions, clock, [Channel(name="mail", url=smtp.url())], _settings())
    subject = "[P2] FIRING: db/disk: disk 91% full"
    _add(sessions, clock, "mail", subject=subject, body="Disk /var is 91% full.")
    await worker.run_once()
    [row] = _rows(sessions)
    assert row.status == SENT, row.last_error
    [msg] = smtp.messages
    assert msg["Subject"] == "[P2] FIRING: db/disk: disk 91% full"
    assert "Disk /var is 91% full." in msg.get_body(("plain", "html")).get_content()  # type: ignore[union-attr]
    assert smtp.envelopes[0][1] == ["oncall@x.test"]


async def test_rate_limit_defers_excess_messages_without_dropping_them(
    sessions: sessionmaker[Session], clock: FakeClock, receiver: Receiver
) -> None:
    channel = Channel.model_validate({"name": "slow", "url": receiver.url("/slow"), "rate_limit": "2/1m"})
    worker = DeliveryWorker(sessions, clock, [channel], _settings())
    start = clock.now()
    _add(sessions, clock, "slow", n=5)

    await worker.run_once()
    assert len(receiver.bodies("/slow")) == 2
    rows = _rows(sessions)
    deferred = [r for r in rows if r.status == PENDING]
    assert len(deferred) == 3
    assert {r.next_attempt_at for r in deferred} == {start + timedelta(seconds=30)}  # the next token
    assert all(r.attempts == 0 and r.attempt_rows == [] for r in deferred)  # a deferral is not an attempt

    sent_at: list[float] = []
    for _ in range(6):
        await clock.advance(timedelta(seconds=30))
        before = len(receiver.bodies("/slow"))
        await worker.run_once()
        sent_at += [(clock.now() - start).total_seconds()] * (len(receiver.bodies("/slow")) - before)
    assert sent_at == [30, 60, 90]
    assert all(r.status == SENT for r in _rows(sessions))


async def test_grouped_firing_messages_go_out_as_one(
    sessions: sessionmaker[Session], clock: FakeClock, receiver: Receiver
) -> None:
    worker = DeliveryWorker(sessions, clock, [Channel(name="g", url=receiver.url("/g"))], _settings())
    start = clock.now()
    for i in range(3):
        if i:
            await clock.advance(timedelta(seconds=10))
        _add(
            sessions,
            clock,
            "g",
            subject=f"[P2] FIRING: api/c{i}",
            body=f"check c{i} failing",
            group_key="api:firing",
            group_window=timedelta(seconds=30),
        )
        assert await worker.run_once() == 0  # the window of the first is open until +30 s
    assert {r.next_attempt_at for r in _rows(sessions)} == {start + timedelta(seconds=30)}
    await clock.advance(timedelta(seconds=10))
    assert await worker.run_once() == 3
    [got] = receiver.bodies("/g")
    assert got["title"] == "[P1] 3 alerts firing on api"
    for i in range(3):
        assert f"[P2] FIRING: api/c{i}" in got["message"] and f"check c{i} failing" in got["message"]
    assert all(r.status == SENT and len(r.attempt_rows) == 1 for r in _rows(sessions))


async def test_a_row_claimed_by_a_crashed_worker_is_sent_after_its_lease_expires(
    sessions: sessionmaker[Session], clock: FakeClock, receiver: Receiver
) -> None:
    channel = Channel(name="hook", url=receiver.url("/lease"))
    stuck = asyncio.Event()

    async def hangs(*args: Any, **kwargs: Any) -> SendOutcome:
        await stuck.wait()
        raise AssertionError("never released")

    settings = NotifySettings(retry=NO_JITTER, lease=timedelta(minutes=2))
    crashed = DeliveryWorker(sessions, clock, [channel], settings, sender=hangs, worker_id="crashed")
    survivor = DeliveryWorker(sessions, clock, [channel], settings, worker_id="survivor")
    _add(sessions, clock, "hook")

    task = asyncio.create_task(crashed.run_once())
    for _ in range(500):  # until the claim (a real thread) has committed
        if _rows(sessions)[0].status == SENDING:
            break
        await asyncio.sleep(0.01)
    task.cancel()  # the worker dies mid-send: its claim stays behind
    [row] = _rows(sessions)
    assert (row.status, row.claimed_by) == (SENDING, "crashed")

    assert await survivor.run_once() == 0  # the lease still holds
    await clock.advance(timedelta(minutes=2, seconds=1))
    assert await survivor.run_once() == 1
    [row] = _rows(sessions)
    assert row.status == SENT
    assert [(a.ok, a.worker) for a in row.attempt_rows] == [(True, "survivor")]
    assert len(receiver.bodies("/lease")) == 1


def test_concurrent_claimers_never_get_the_same_row(engine: Engine, clock: FakeClock) -> None:
    from opsbook.db.engine import make_sessionmaker

    sessions = make_sessionmaker(engine)
    channel = Channel(name="hook", url="json://127.0.0.1:9/x")
    settings = NotifySettings(batch_size=7)
    _add(sessions, clock, "hook", n=60)
    workers = [DeliveryWorker(sessions, clock, [channel], settings, worker_id=f"w{i}") for i in range(3)]
    barrier = threading.Barrier(len(workers))
    claimed: dict[str, list[int]] = {w.worker_id: [] for w in workers}
    errors: list[BaseException] = []

    def claim_all(worker: DeliveryWorker) -> None:
        try:
            barrier.wait()
            while batch := worker.claim(clock.now()):
                claimed[worker.worker_id] += [c.id for c in batch]
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=claim_all, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    every = [i for ids in claimed.values() for i in ids]
    assert len(every) == 60 and len(set(every)) == 60
    with sessions() as s:
        owners = {i: by for i, by in s.execute(select(OutboxRow.id, OutboxRow.claimed_by))}
    for worker_id, ids in claimed.items():
        assert all(owners[i] == worker_id for i in ids)


async def test_channel_secrets_never_reach_attempt_errors(
    sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    url = f"json://admin:pa55word99@127.0.0.1:9/hooks/{TOKEN}?token=qu3ryT0ken42"

    async def echoes_url(
        url: str, title: str, body: str, *, message_id: str, notify_type: str, timeout: float,
        secrets: Iterable[str],
    ) -> SendOutcome:
        return SendOutcome(False, f"could not reach {url} (token {TOKEN}, password pa55word99)")

    real = DeliveryWorker(sessions, clock, [Channel(name="real", url=url)], _settings())
    echo = DeliveryWorker(sessions, clock, [Channel(name="echo", url=url)], _settings(), sender=echoes_url)
    _add(sessions, clock, "real")
    await real.run_once()
    _add(sessions, clock, "echo")
    await echo.run_once()
    for row in _rows(sessions):
        [attempt] = row.attempt_rows
        assert not attempt.ok and attempt.error
        for secret in (TOKEN, "pa55word99", "qu3ryT0ken42"):
            assert secret not in attempt.error and secret not in row.last_error
    assert "***" in _rows(sessions)[1].last_error


async def test_unknown_channel_is_a_failed_attempt(sessions: sessionmaker[Session], clock: FakeClock) -> None:
    worker = DeliveryWorker(sessions, clock, [], _settings())
    _add(sessions, clock, "gone")
    await worker.run_once()
    [row] = _rows(sessions)
    assert row.status == PENDING and row.attempts == 1
    assert "not in the configuration" in row.attempt_rows[0].error


async def test_the_loop_delivers_when_woken_and_stops_cleanly(
    sessions: sessionmaker[Session], clock: FakeClock, receiver: Receiver
) -> None:
    worker = DeliveryWorker(sessions, clock, [Channel(name="hook", url=receiver.url("/loop"))], _settings())
    worker.start()
    await clock.settle()
    _add(sessions, clock, "hook")
    worker.wake()
    for _ in range(500):
        if receiver.bodies("/loop"):
            break
        await asyncio.sleep(0.01)
    await worker.stop()
    assert len(receiver.bodies("/loop")) == 1
    for _ in range(100):
        if _rows(sessions)[0].status == SENT:
            break
        await asyncio.sleep(0.01)
    assert _rows(sessions)[0].status == SENT


@pytest.mark.parametrize("final", [True])
async def test_deliver_ids_sends_once_without_retry(
    sessions: sessionmaker[Session], clock: FakeClock, receiver: Receiver, final: bool
) -> None:
    receiver.always_fail.add("/t")
    worker = DeliveryWorker(sessions, clock, [Channel(name="t", url=receiver.url("/t"))], _settings())
    calls: list[GiveUp] = []
    worker.on_give_up = lambda _s, g: calls.append(g)
    ids = _add(sessions, clock, "t", kind="test")
    [outcome] = await worker.deliver_ids(ids, final=final)
    assert not outcome.ok and "500" in outcome.error
    [row] = _rows(sessions)
    assert row.status == FAILED and calls == []


async def test_a_restarted_worker_takes_back_claims_of_dead_processes_on_its_host_at_once(
    sessions: sessionmaker[Session], clock: FakeClock, receiver: Receiver
) -> None:
    import socket
    import subprocess
    import sys

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(gone.stdout)
    host = socket.gethostname()
    ids = _add(sessions, clock, "hook", n=3)
    owners = [f"{host}:{dead_pid}:aaaaaa", f"{host}:{os.getpid()}:bbbbbb", f"other-host:{dead_pid}:cccccc"]
    with sessions.begin() as s:
        for row_id, owner in zip(ids, owners, strict=True):
            row = s.get(OutboxRow, row_id)
            assert row is not None
            row.status, row.claimed_by, row.lease_until = SENDING, owner, clock.now() + timedelta(minutes=2)

    worker = DeliveryWorker(
        sessions, clock, [Channel(name="hook", url=receiver.url("/orphans"))], _settings()
    )
    assert await asyncio.to_thread(worker.release_orphans, clock.now()) == 2
    assert await worker.run_once() == 2  # the other host's claim waits for its lease
    statuses = [r.status for r in _rows(sessions)]
    assert statuses == [SENT, SENT, SENDING]
    await clock.advance(timedelta(minutes=2, seconds=1))
    assert await worker.run_once() == 1
    assert len(receiver.bodies("/orphans")) == 3
