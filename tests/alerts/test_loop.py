"""DueAlerts: a pending alert fires from the timer at exactly its deadline, with no new result; a failing
round is reported to the supervisor and retried."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from opsbook.alerts.loop import DueAlerts
from opsbook.alerts.types import AlertTransition, TransitionKind
from opsbook.loops import LoopHealth, Supervisor
from tests.alerts.conftest import Harness


async def test_a_pending_alert_fires_from_the_timer_at_its_deadline(harness: Harness) -> None:
    h = harness
    h.tick("jobs/nightly", "down", message="missed")  # heartbeat missing for 2m: pending
    seen: list[tuple[datetime, AlertTransition]] = []

    def hook(session: Session, transitions: Sequence[AlertTransition], now: datetime) -> None:
        assert session.in_transaction()
        seen.extend((now, t) for t in transitions)

    pending_at = h.clock.now()
    due = DueAlerts(h.sessions, h.clock, h.engine, [hook], max_wait=timedelta(minutes=10), offload=False)
    due.start()
    try:
        await h.clock.advance(timedelta(minutes=1, seconds=59))
        assert seen == []
        await h.clock.advance(timedelta(seconds=1))
        fired_at = pending_at + timedelta(minutes=2)
        assert [(now, t.kind) for now, t in seen] == [(fired_at, TransitionKind.FIRED)]
        await h.clock.advance(timedelta(hours=1))
        assert len(seen) == 1  # firing stays firing; no second page
    finally:
        await due.stop()


async def test_a_failing_round_is_reported_and_retried(harness: Harness) -> None:
    h = harness
    h.tick("jobs/nightly", "down", message="missed")
    failures = [RuntimeError("the hook broke")]
    fired: list[AlertTransition] = []

    def hook(_session: Session, transitions: Sequence[AlertTransition], _now: datetime) -> None:
        if failures:
            raise failures.pop()
        fired.extend(transitions)

    down: list[LoopHealth] = []
    up: list[LoopHealth] = []
    supervisor = Supervisor(on_down=down.append, on_up=up.append)
    due = DueAlerts(h.sessions, h.clock, h.engine, [hook], offload=False, supervisor=supervisor)
    due.start()
    try:
        await h.clock.advance(timedelta(seconds=1))  # the first round runs and fails
        assert [(d.name, d.last_error) for d in down] == [("due alerts", "RuntimeError: the hook broke")]
        await h.clock.advance(timedelta(minutes=2))  # retried after its backoff; fires at the deadline
        assert [t.kind for t in fired] == [TransitionKind.FIRED]
        assert [u.name for u in up] == ["due alerts"]
    finally:
        await due.stop()
