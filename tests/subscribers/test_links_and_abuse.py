"""The subscribe form and links under abuse: forged and expired links refused, the form's CSRF check,
bad input answered 400, the per-IP limit 429, the per-address limit and an address subscribed already
answered exactly like a new one (the form tells nobody who subscribes); two requests racing for one
address make one subscriber."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from opsbook.clock import FakeClock
from opsbook.notify.models import OutboxRow
from opsbook.subscribers import service
from tests.notify.conftest import MailBox
from tests.subscribers.support import ADDRESS, START, body, link, runtime_of, served, subscribers, to


def _confirmations(engine: Engine) -> int:
    with Session(engine) as s:
        return int(s.scalar(select(func.count()).select_from(OutboxRow)
                            .where(OutboxRow.kind == "status_confirm")) or 0)


async def test_forged_and_expired_links_are_refused(sqlite_engine: Engine, smtp: MailBox) -> None:
    clock = FakeClock(START)
    runtime = runtime_of(sqlite_engine, clock, smtp.port)
    async with served(runtime) as site:
        assert (await site.subscribe(ADDRESS)).status_code == 200
        await site.settle(lambda: len(to(smtp.messages, ADDRESS)) == 1)
        confirm = link(body(to(smtp.messages, ADDRESS)[0]), "confirm")
        forged = confirm[:-3] + ("aaa" if not confirm.endswith("aaa") else "bbb")
        refused = await site.http.post(forged)
        assert refused.status_code == 400 and "not valid" in refused.text
        not_ours = await site.http.post("/status/unsubscribe/eyJzIjoxLCJuIjoieCJ9.aaaaaa.bbbbbbbbbbbbbbbb")
        assert not_ours.status_code == 400 and "not valid" in not_ours.text
        # an unsubscribe link is no confirmation link: same secret, another salt
        token = confirm.rsplit("/", 1)[1]
        assert (await site.http.post(f"/status/unsubscribe/{token}")).status_code == 400

        await clock.advance(timedelta(minutes=30, seconds=1))  # confirm_within: 30m
        expired = await site.http.post(confirm)
        assert expired.status_code == 400 and "expired" in expired.text
        await site.settle(lambda: subscribers(sqlite_engine) == [])  # the request is forgotten, on time


async def test_the_form_tells_nobody_who_subscribes_and_limits_requests(
    sqlite_engine: Engine, smtp: MailBox
) -> None:
    clock = FakeClock(START)
    runtime = runtime_of(sqlite_engine, clock, smtp.port)
    async with served(runtime) as site:
        first = await site.subscribe(ADDRESS)
        await site.settle(lambda: len(to(smtp.messages, ADDRESS)) == 1)
        assert (await site.http.post(link(body(to(smtp.messages, ADDRESS)[0]), "confirm"))).status_code == 200
        again = await site.subscribe(ADDRESS.upper(), services=("web",))  # subscribed already
        stranger = await site.subscribe("someone.new@example.org")
        assert first.status_code == again.status_code == stranger.status_code == 200
        assert first.text == again.text == stranger.text
        await site.settle(lambda: len(to(smtp.messages, ADDRESS)) == 2)
        change = to(smtp.messages, ADDRESS)[1]
        assert "to change the status updates" in body(change)
        assert subscribers(sqlite_engine)[0].services == []  # unchanged until the change is confirmed
        assert (await site.http.post(link(body(change), "confirm"))).status_code == 200
        assert subscribers(sqlite_engine)[0].services == ["web"]

        # per address: 2 a day; the third request is answered the same, and sends nothing
        before = _confirmations(sqlite_engine)
        third = await site.subscribe(ADDRESS)
        assert third.status_code == 200 and third.text == first.text
        assert _confirmations(sqlite_engine) == before

        # per IP: 6 an hour (4 so far); then 429 whatever the address
        assert (await site.subscribe("x1@example.org")).status_code == 200
        assert (await site.subscribe("x2@example.org")).status_code == 200
        limited = await site.subscribe("x3@example.org")
        assert limited.status_code == 429 and "too many" in limited.text
        await clock.advance(timedelta(hours=1, seconds=1))
        assert (await site.subscribe("x3@example.org")).status_code == 200


async def test_bad_input_and_cross_site_posts(sqlite_engine: Engine, smtp: MailBox) -> None:
    runtime = runtime_of(sqlite_engine, FakeClock(START), smtp.port)
    async with served(runtime) as site:
        for address, kind, said in [
            ("not-an-address", "email", "not an e-mail address"),
            ("a" * 300 + "@example.com", "email", "at most 254"),
            ("ftp://example.com/hook", "webhook", "http:// or https://"),
            ("https://example.com/" + "x" * 2001, "webhook", "at most 2000"),
            (ADDRESS, "carrier-pigeon", "by email or webhook only"),
        ]:
            answer = await site.subscribe(address, kind=kind)
            assert answer.status_code == 400 and said in answer.text, (address[:40], answer.text[-400:])
        unknown = await site.subscribe(ADDRESS, services=("billing-db",))
        assert unknown.status_code == 400 and "no public service" in unknown.text
        assert "billing-db" not in (await site.http.get("/status/subscribe")).text

        async with httpx.AsyncClient(base_url=str(site.http.base_url)) as outsider:  # no form cookie
            forged = await outsider.post("/status/subscribe", data={"kind": "email", "address": ADDRESS,
                                                                   "csrf_token": "guessed"})
            assert forged.status_code == 403
        assert subscribers(sqlite_engine) == []
        big = await site.http.post("/status/subscribe", content=b"address=" + b"x" * 70_000,
                                   headers={"content-type": "application/x-www-form-urlencoded"})
        assert big.status_code == 413


def test_two_requests_racing_for_one_address_make_one_subscriber(engine: Engine) -> None:
    runtime = runtime_of(engine, FakeClock(START), 25)
    service.subscribe(runtime, service.visitor("192.0.2.1"), "email", ADDRESS, [])
    with runtime.sessions.begin() as s:  # the other request, having looked before the first committed
        [first] = subscribers(engine)
        second = service._new(s, "email", ADDRESS, first.address_key, ["api"], START)
        assert second.id == first.id
    assert len(subscribers(engine)) == 1
