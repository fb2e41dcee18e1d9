"""The outbox on both databases: enqueue in the caller's transaction, dedup, grouping windows; alert messages
sent through `notify.send`: routed, rendered, held and deduplicated, and the worker woken by an event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from opsbook.alerts.types import AlertTransition, TransitionKind
from opsbook.clock import FakeClock
from opsbook.config.loader import parse_config
from opsbook.events import BUS_KEY, EventBus, Topic
from opsbook.notify.messages import AlertMessage
from opsbook.notify.models import CANCELLED, PENDING, OutboxRow
from opsbook.notify.outbox import cancel, counts_by_status, enqueue
from opsbook.notify.service import send
from opsbook.rules.severity import Severity


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
        assert row is not None and row.status == PENDING and row.next_attempt_at == clock.now()
    assert _count(sessions) == 1


def test_the_same_dedup_key_is_enqueued_once_per_channel(
    sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    with sessions.begin() as s:
        first = enqueue(s, channel="a", subject="1", body="", kind="firing", now=clock.now(), dedup_key="k")
    with sessions.begin() as s:
        again = enqueue(s, channel="a", subject="2", body="", kind="firing", now=clock.now(), dedup_key="k")
        other = enqueue(s, channel="b", subject="3", body="", kind="firing", now=clock.now(), dedup_key="k")
        assert again is None  # queued before: nothing added
        assert first is not None and other is not None and other.id != first.id
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
        assert a is not None and b is not None and other_service is not None
        assert urgent is not None and held is not None and late is not None
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


def _fired(alert_id: int, severity: str, check_id: str, at: datetime) -> AlertMessage:
    return AlertMessage(AlertTransition(
        TransitionKind.FIRED, alert_id, f"{check_id}:r", "rule", "api", check_id, "r",
        Severity.parse(severity), "api is down", "", {}, None, None, "failures >= 3", "3 failures", at, at,
    ))


def test_alert_messages_are_routed_rendered_and_held_by_severity(
    sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    cfg = parse_config(CONFIG, "opsbook.yaml", {}).config
    bus: EventBus = sessions.kw["info"][BUS_KEY]
    queued: list[object] = []
    bus.subscribe(Topic.OUTBOX, queued.append)
    saturday = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
    with sessions.begin() as s:
        p0 = send(s, cfg, _fired(7, "P0", "api/health", saturday), saturday)
        p3 = send(s, cfg, _fired(8, "P3", "api/slow", saturday), saturday)
        assert send(s, cfg, _fired(9, "P4", "api/typo", saturday), saturday) == []  # P4 is only logged
        assert [r.channel for r in p0] == ["pager", "chat"]
        assert all(r.next_attempt_at == saturday for r in p0)  # P0 is never grouped or held
        assert p0[0].subject == "[P0] FIRING: api/health: api is down"
        assert (p0[0].kind, p0[0].alert_id, p0[0].dedup_key) == ("firing", 7, "alert:7:fired")
        assert p0[0].refs == {"action": "page"}
        [held] = p3
        monday_nine = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)
        assert held.channel == "chat" and held.next_attempt_at == monday_nine + timedelta(seconds=30)
        assert held.group_key == "api:firing"
        assert queued == []  # not before the decision commits
    assert len(queued) == 2  # one wake-up per message that added rows
    with sessions.begin() as s:  # deciding again after a restart adds nothing, and wakes nobody
        assert send(s, cfg, _fired(7, "P0", "api/health", saturday), saturday) == []
    assert _count(sessions) == 3 and len(queued) == 2


def test_a_message_rolled_back_with_its_decision_is_neither_queued_nor_announced(
    sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    cfg = parse_config(CONFIG, "opsbook.yaml", {}).config
    bus: EventBus = sessions.kw["info"][BUS_KEY]
    queued: list[object] = []
    bus.subscribe(Topic.OUTBOX, queued.append)
    try:
        with sessions.begin() as s:
            assert len(send(s, cfg, _fired(7, "P0", "api/health", clock.now()), clock.now())) == 2
            raise RuntimeError("the decision failed")
    except RuntimeError:
        pass
    assert _count(sessions) == 0 and queued == []
