"""A channel's rate limit holds across the delivery workers of a cluster: two workers (two processes'
connections) on one PostgreSQL database send at most the limit between them, and the rest goes out as
tokens arrive, none dropped and none twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from opsbook.clock import FakeClock
from opsbook.db.engine import make_sessionmaker
from opsbook.notify.config import Channel
from opsbook.notify.models import SENT
from opsbook.notify.worker import DeliveryWorker
from tests.notify.conftest import Receiver, receiver  # noqa: F401  (the webhook receiver fixture)
from tests.notify.test_delivery import _add, _rows, _settings


async def test_two_workers_share_one_channel_limit(
    engines: list[Engine], receiver: Receiver  # noqa: F811
) -> None:
    clock = FakeClock(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
    channel = Channel.model_validate({"name": "slow", "url": receiver.url("/slow"), "rate_limit": "2/1m"})
    sessions = [make_sessionmaker(engine) for engine in engines]
    first, second = (DeliveryWorker(s, clock, [channel], _settings()) for s in sessions)
    assert first.shared_limits and second.shared_limits
    _add(sessions[0], clock, "slow", n=6)

    await first.run_once()
    await second.run_once()  # finds the bucket the first one emptied
    assert len(receiver.bodies("/slow")) == 2  # per worker it would be 4

    for _ in range(4):  # a token every 30 s, taken by whichever worker looks first
        await clock.advance(timedelta(seconds=30))
        await second.run_once()
        await first.run_once()
    assert len(receiver.bodies("/slow")) == 6
    rows = _rows(sessions[0])
    assert [r.status for r in rows] == [SENT] * 6
    sent = sorted(str(b["message"]) for b in receiver.bodies("/slow"))
    assert sent == sorted(f"api is down ({i})" for i in range(6))  # each once
