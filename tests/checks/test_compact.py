"""The compact store (issue 16): messages only when they change, minute rollups that follow the interval,
packed values, whole-hour pruning; read back exactly as written, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from opsbook.checks import store
from opsbook.checks.models import ResultRow, RollupRow
from opsbook.checks.result import CheckResult, Status, StoredResult
from opsbook.checks.retention import prune
from opsbook.checks.rollup import HOUR, MINUTE, roll_up, rollups
from opsbook.config.schema import Retention

T0 = datetime(2026, 3, 2, 9, 58, tzinfo=UTC)
CHECK = "api/health"
FAR = datetime(2100, 1, 1, tzinfo=UTC)


def result(ts: datetime, message: str, status: Status = Status.UP, check: str = CHECK,
           **values: float) -> StoredResult:
    return StoredResult(check, ts, CheckResult(status, 12.5, message, values))


def write(engine: Engine, *results: StoredResult) -> None:
    with Session(engine) as s, s.begin():
        store.write_batch(s, list(results))


def stored_messages(engine: Engine) -> list[str | None]:
    with Session(engine) as s:
        return list(s.scalars(select(ResultRow.message).order_by(ResultRow.ts)))


def read(engine: Engine, check: str = CHECK) -> list[store.StoredRow]:
    with Session(engine) as s:
        return store.results(s, check, T0 - timedelta(days=1), FAR)[::-1]


def test_a_message_is_stored_when_it_changes_and_on_the_first_result_of_each_hour(engine: Engine) -> None:
    said = ["200 OK", "200 OK", "200 OK", "500 Internal Server Error", "200 OK", "200 OK"]
    statuses = [Status.UP, Status.UP, Status.UP, Status.DOWN, Status.UP, Status.UP]
    # one a minute from 09:58: the third (10:00) is the first of a new hour
    write(engine, *(result(T0 + timedelta(minutes=i), m, s) for i, (m, s) in enumerate(zip(said, statuses,
                                                                                            strict=True))))
    write(engine, result(T0 + timedelta(minutes=6), "200 OK"))  # a later batch: as before
    assert stored_messages(engine) == [
        "200 OK", None, "200 OK", "500 Internal Server Error", "200 OK", None, None
    ]
    assert [r.message for r in read(engine)] == [*said, "200 OK"]
    # a range starting at a row whose message is "as before" still reads the message
    with Session(engine) as s:
        (second,) = store.results(s, CHECK, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2))
        failures = store.results(s, CHECK, T0, FAR, statuses=("down",))
    assert second.message == "200 OK"
    assert [(f.status, f.message) for f in failures] == [("down", "500 Internal Server Error")]


def test_a_late_result_keeps_its_own_message_and_not_the_next_ones(engine: Engine) -> None:
    write(engine, result(T0, "x"), result(T0 + timedelta(seconds=40), "x"))
    assert stored_messages(engine) == ["x", None]
    write(engine, result(T0 + timedelta(seconds=20), "y"))  # late: between the two
    assert [r.message for r in read(engine)] == ["x", "y", "x"]
    assert stored_messages(engine) == ["x", "y", "x"]  # the row after it now says its message itself


def test_values_are_packed_and_read_back(engine: Engine) -> None:
    http = {"status_code": 200, "body_bytes": 15, "ttfb_ms": 1.25, "redirects": 0}
    write(engine, StoredResult(CHECK, T0, CheckResult(Status.UP, 12.5, "200 OK", http)),
          result(T0 + timedelta(minutes=1), "ok", my_gauge=7))
    with Session(engine) as s:
        packed = list(s.scalars(select(ResultRow.values).order_by(ResultRow.ts)))
    assert packed[0] is not None and len(packed[0]) <= 18  # 67 bytes as JSON text
    assert [r.values for r in read(engine)] == [http, {"my_gauge": 7}]  # any name, as it came
    write(engine, result(T0 + timedelta(minutes=2), "ok"))
    with Session(engine) as s:
        assert s.scalar(select(ResultRow.values).where(ResultRow.ts == max_ts(s))) is None  # none: NULL


def max_ts(s: Session) -> int | None:
    return s.scalar(select(func.max(ResultRow.ts)))


def test_minute_rollups_follow_the_interval(engine: Engine) -> None:
    """A check every 60 s gets no minute rollups (its raw rows say the same); one every 10 s does.
    Both read the same minutes back."""
    start = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    slow = [result(start + timedelta(minutes=m), "ok", check="a/slow") for m in range(10)]
    fast = [result(start + timedelta(seconds=10 * i), "ok", check="a/fast") for i in range(60)]
    write(engine, *slow, *fast)
    with Session(engine) as s, s.begin():
        roll_up(s, start + timedelta(minutes=11))
    with Session(engine) as s:
        minute_chunks = s.scalar(select(func.count()).where(RollupRow.resolution == MINUTE))
        slow_minutes = rollups(s, "a/slow", MINUTE, start, start + timedelta(minutes=10))
        fast_minutes = rollups(s, "a/fast", MINUTE, start, start + timedelta(minutes=10))
        (slow_hour,) = rollups(s, "a/slow", HOUR, start, start + timedelta(hours=1))
    assert minute_chunks == 1  # the fast check's hour of minutes
    assert [m.count for m in slow_minutes] == [1] * 10 and [m.count for m in fast_minutes] == [6] * 10
    assert slow_minutes[3].bucket == start + timedelta(minutes=3)
    assert slow_minutes[0].latency_min == slow_minutes[0].latency_max == 12.5
    assert slow_hour.count == 10


def test_raw_results_are_pruned_by_whole_hours(engine: Engine) -> None:
    start = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    write(engine, *(result(start + timedelta(minutes=20 * i), "same") for i in range(9)))  # 10:00 to 12:40
    now = start + timedelta(hours=3, minutes=30)
    with Session(engine) as s, s.begin():
        roll_up(s, now)
        pruned = prune(s, Retention(raw=timedelta(hours=2)), now)  # cutoff 11:30 → 11:00
    assert pruned.raw == 3
    rows = read(engine)
    assert rows[0].ts == start + timedelta(hours=1) and [r.message for r in rows] == ["same"] * 6
