"""Two processes evaluating the same check at once (a lease handover, a ping stored by an API process while
the leaseholder records a miss) take turns on PostgreSQL: the second reads the alert the first opened
instead of opening it too and failing on its unique open key."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select, text

from opsbook.alerts.models import AlertRow
from opsbook.alerts.service import AlertEngine
from opsbook.alerts.types import AlertTransition, TransitionKind
from tests.alerts.conftest import Harness, load


def _waiting_on_a_lock(harness: Harness) -> bool:
    with harness.sessions() as probe:
        return bool(probe.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database()")).scalar())


def test_the_second_evaluation_waits_and_reads_the_first_ones_alert(harness: Harness) -> None:
    if harness.sessions.kw["bind"].dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time; the race needs PostgreSQL")
    harness.write("api/flappy", latency=300.0)  # the slow rule fires on this result
    other = AlertEngine(load().config)  # another process's engine, with its own windows
    seen: list[list[AlertTransition]] = []
    failed: list[BaseException] = []

    def second() -> None:
        try:
            with harness.sessions.begin() as session:
                seen.append(other.process(session, ["api/flappy"], harness.clock.now()))
        except BaseException as exc:  # reported by the assertion below
            failed.append(exc)

    with harness.sessions.begin() as session:
        mine = harness.engine.process(session, ["api/flappy"], harness.clock.now())
        thread = threading.Thread(target=second)
        thread.start()
        deadline = time.monotonic() + 30  # real time: the other thread must reach the database
        while not _waiting_on_a_lock(harness) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _waiting_on_a_lock(harness), "the second evaluation never waited for the first"
    thread.join(timeout=30)
    assert failed == []
    assert [t.kind for t in mine] == [TransitionKind.FIRED]
    assert seen == [[]]  # already firing: nothing to announce twice
    with harness.sessions() as session:
        assert session.scalar(select(func.count()).select_from(AlertRow)) == 1
