"""run_due: a pending alert fires from the timer at exactly its deadline, with no new result."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from opsbook.alerts.loop import run_due
from opsbook.alerts.service import AlertTransition, TransitionKind
from tests.alerts.conftest import Harness


async def test_run_due_fires_a_pending_alert_at_its_deadline(harness: Harness) -> None:
    h = harness
    h.tick("jobs/nightly", "down", message="missed")  # heartbeat missing for 2m: pending
    seen: list[tuple[datetime, AlertTransition]] = []

    def hook(session: Session, transitions: Sequence[AlertTransition], now: datetime) -> None:
        assert session.in_transaction()
        seen.extend((now, t) for t in transitions)

    pending_at = h.clock.now()
    task = asyncio.create_task(run_due(h.sessions, h.clock, h.engine, [hook], max_wait=timedelta(minutes=10),
                                       offload=False))
    try:
        await h.clock.advance(timedelta(minutes=1, seconds=59))
        assert seen == []
        await h.clock.advance(timedelta(seconds=1))
        fired_at = pending_at + timedelta(minutes=2)
        assert [(now, t.kind) for now, t in seen] == [(fired_at, TransitionKind.FIRED)]
        await h.clock.advance(timedelta(hours=1))
        assert len(seen) == 1  # firing stays firing; no second page
    finally:
        task.cancel()
