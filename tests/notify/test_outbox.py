"""The outbox on both databases: enqueue in the caller's transaction, dedup, grouping windows, routing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from opsbook.clock import FakeClock
from opsbook.config.loader import parse_config
from opsbook.notify.models import CANCELLED, PENDING, OutboxRow
from opsbook.notify.outbox import cancel, counts_by_status, enqueue
from opsbook.notify.service import enqueue_routed


def _count(sessions: sessionmaker[Session]) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(OutboxRow)) or 0)


def test_enqueue_commits_or_rolls_back_with_the_callers_decision(
    sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    try:
        with sessions.begin() as s:
            enqueue(s, channel="c", subject="s", body="b", kind="firing", now=clock.now())
            raise RuntimeError("the decision failed")
    except RuntimeError:
        pass
    assert _count(sessions) == 0
    with sessions.begin() as s:
        row = enqueue(s, channel="c", subject="s", body="b", kind="firing", now=clock.now())
        assert row.id is not None and row.status == PENDING and row.next_attempt_at == clock.now()
    assert _count(sessions) == 1


def test_the_same_dedup_key_is_enqueued_once_per_channel(
    sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    with sessions.begin() as s:
        first = enqueue(s, channel="a", subject="1", body="", kind="firing", now=clock.now(), dedup_key="k")
    with sessions.begin() as s:
        again = enqueue(s, channel="a", subject="2", body="", kind="firing", now=clock.now(), dedup_key="k")
        other = enqueue(s, channel="b", subject="3", body="", kind="firing", now=clock.now(), dedup_key="k")
        assert again.id == first.id and again.subject == "1"
        assert other.id != first.id
    assert _count(sessions) == 2


def test_grouping_joins_an_open_window_but_never_delays_beyond_its_own(
    sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    t0 = clock.now()
    w = timedelta(seconds=30)
    with sessions.begin() as s:
        a = enqueue(
            s,
            channel="c",
            subject="a",
            body="",
            kind="firing",
            now=t0,
            group_key="api:firing",
            group_window=w,
        )
        b = enqueue(
            s,
            channel="c",
            subject="b",
            body="",
            kind="firing",
            now=t0 + timedelta(seconds=20),
            group_key="api:firing",
            group_window=w,
        )
        other_service = enqueue(
            s,
            channel="c",
            subject="x",
            body="",
            kind="firing",
            now=t0 + timedelta(seconds=20),
            group_key="db:firing",
            group_window=w,
        )
        urgent = enqueue(
            s,
            channel="c",
            subject="p0",
            body="",
            kind="firing",
            now=t0 + timedelta(seconds=20),
            group_key="api:firing",
            group_window=timedelta(0),
        )
        held = enqueue(
            s,
            channel="c",
            subject="p3",
            body="",
            kind="firing",
            now=t0,
            group_key="web:firing",
            group_window=w,
            send_after=t0 + timedelta(hours=10),
        )
        late = enqueue(
            s,
            channel="c",
            subject="p2",
            body="",
            kind="firing",
            now=t0 + timedelta(seconds=5),
            group_key="web:firing",
            group_window=w,
        )
        assert a.next_attempt_at == b.next_attempt_at == t0 + w
        assert other_service.next_attempt_at == t0 + timedelta(seconds=50)
        assert urgent.next_attempt_at == t0 + timedelta(seconds=20)
        assert held.next_attempt_at == t0 + timedelta(hours=10, seconds=30)
        assert late.next_attempt_at == t0 + timedelta(seconds=35)  # not held until the P3's time


def test_cancel_only_touches_pending_rows(sessions: sessionmaker[Session], clock: FakeClock) -> None:
    with sessions.begin() as s:
        enqueue(s, channel="c", subject="", body="", kind="firing", now=clock.now(), dedup_key="x")
        enqueue(s, channel="c", subject="", body="", kind="firing", now=clock.now(), dedup_key="y")
    with sessions.begin() as s:
        assert cancel(s, clock.now(), dedup_keys=["x"], reason="silenced") == 1
        assert cancel(s, clock.now(), dedup_keys=["x"]) == 0
    with sessions() as s:
        assert counts_by_status(s) == {CANCELLED: 1, PENDING: 1}


CONFIG = """\
timezone: UTC
channels:
  - {name: pager, url: "json://127.0.0.1:9/pager"}
  - {name: chat, url: "json://127.0.0.1:9/chat"}
routing:
  P0: {action: page, channels: [pager, chat]}
  P3: {action: notify, channels: [chat], business_hours_only: true}
grouping: {window: 30s}
"""


def test_enqueue_routed_routes_renders_and_holds_by_severity(
    sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    cfg = parse_config(CONFIG, "opsbook.yaml", {}).config
    saturday = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
    ctx = {"summary": "api is down", "since": saturday}
    with sessions.begin() as s:
        p0 = enqueue_routed(
            s,
            cfg,
            kind="firing",
            severity="P0",
            context=ctx,
            now=saturday,
            dedup_key="api/health:firing:1",
            service="api",
            check_id="health",
            alert_id=7,
        )
        p3 = enqueue_routed(
            s,
            cfg,
            kind="firing",
            severity="P3",
            context=ctx,
            now=saturday,
            dedup_key="api/slow:firing:1",
            service="api",
            check_id="slow",
        )
        p4 = enqueue_routed(s, cfg, kind="firing", severity="P4", context=ctx, now=saturday, dedup_key="z")
        assert p0.route.action == "page" and [r.channel for r in p0.rows] == ["pager", "chat"]
        assert all(r.next_attempt_at == saturday for r in p0.rows)  # P0 is never grouped or held
        assert p0.rows[0].subject == "[P0] FIRING: api/health: api is down"
        assert p0.rows[0].alert_id == 7 and p0.rows[0].refs == {"action": "page"}
        [held] = p3.rows
        monday_nine = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)
        assert held.channel == "chat" and held.next_attempt_at == monday_nine + timedelta(seconds=30)
        assert p4.route.action == "log" and p4.rows == [] and p4.message is None
    with sessions.begin() as s:  # deciding again after a restart adds nothing
        again = enqueue_routed(
            s,
            cfg,
            kind="firing",
            severity="P0",
            context=ctx,
            now=saturday,
            dedup_key="api/health:firing:1",
            service="api",
            check_id="health",
        )
        assert [r.id for r in again.rows] == [r.id for r in p0.rows]
    assert _count(sessions) == 3
