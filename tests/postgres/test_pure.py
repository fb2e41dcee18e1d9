"""The pure parts of database care: literal masking, duplicate indexes, statement deltas, the window
arithmetic of maintenance tasks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opsbook.postgres.indexes import IndexDef, duplicates
from opsbook.postgres.maintenance import decide, schedule, schedule_outside
from opsbook.postgres.masking import mask_literals
from opsbook.postgres.statements import deltas, share
from opsbook.silences.windows import RecurringWindow


@pytest.mark.parametrize(("query", "masked"), [
    ("SELECT * FROM users WHERE email = 'ana@example.com' AND id = 42",
     "SELECT * FROM users WHERE email = ? AND id = ?"),
    ("UPDATE t SET note = 'it''s' WHERE x > 3.5e2", "UPDATE t SET note = ? WHERE x > ?"),
    ("SELECT $tag$secret$tag$, $$pw$$, E'a\\'b'", "SELECT ?, ?, ?"),
    ("SELECT col1, t2.c3 FROM t2 WHERE a = $1 -- the key 'abc'\n LIMIT 10",
     "SELECT col1, t2.c3 FROM t2 WHERE a = $1 LIMIT ?"),
    ('SELECT "Weird 1" FROM x /* 12 */', 'SELECT "Weird 1" FROM x'),
])
def test_literals_are_masked(query: str, masked: str) -> None:
    assert mask_literals(query) == masked


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789@.-", min_size=6, max_size=30))
def test_no_string_literal_survives(secret: str) -> None:
    assert secret not in mask_literals(f"INSERT INTO t VALUES ('{secret}', 1)")


def idx(name: str, cols: str, unique: bool = False, table: str = "public.t", pred: str = "") -> IndexDef:
    classes = " ".join("3124" for _ in cols.split())
    return IndexDef(table, name, cols, classes, "", pred, unique, 8192, "btree")


def test_duplicate_and_prefix_indexes() -> None:
    found = duplicates([
        idx("t_pkey", "1", unique=True), idx("t_a", "2"), idx("t_a_again", "2"), idx("t_a_b", "2 3"),
        idx("t_b", "3"), idx("t_a_partial", "2", pred="(x > 0)"), idx("u_a", "2", table="public.u"),
    ])
    assert {d["index"] for d in found} == {"t_a", "t_a_again"}  # t_a_b serves both
    assert {d["covered_by"] for d in found} <= {"t_a", "t_a_b"}


def test_a_unique_index_is_not_made_redundant_by_a_wider_one() -> None:
    assert duplicates([idx("t_a_key", "2", unique=True), idx("t_a_b", "2 3")]) == []
    (found,) = duplicates([idx("t_a_key", "2", unique=True), idx("t_a", "2")])
    assert found["index"] == "t_a"


def test_statement_deltas_over_a_window() -> None:
    older = {"1": [100, 1000.0, 100, "q1"], "2": [5, 50.0, 5, "q2"], "3": [50, 5000.0, 50, "q3"]}
    newer = {"1": [160, 1600.0, 160, "q1"], "2": [5, 50.0, 5, "q2"], "3": [10, 900.0, 10, "q3"],
             "4": [7, 70.0, 7, "q4"]}
    found = deltas(older, newer)
    assert [(q.queryid, q.calls, q.total_ms) for q in found] == [("3", 10, 900.0), ("1", 60, 600.0),
                                                                  ("4", 7, 70.0)]
    assert found[1].mean_ms == 10.0  # 2 did not run; 3 was reset (its newer counts are the window's)
    assert share(found) == pytest.approx(900 / 1570 * 100, abs=0.01)


SUNDAYS = RecurringWindow("sunday-db", "0 2 * * 0", timedelta(hours=2), "UTC")


def test_a_schedule_inside_the_window_fits_and_one_outside_is_found() -> None:
    assert schedule_outside(schedule("vacuum", "15 2 * * 0", "UTC"), SUNDAYS) is None
    assert schedule_outside(schedule("vacuum", "59 3 * * 0", "UTC"), SUNDAYS) is None
    late = schedule("late", "0 4 * * 0", "UTC")
    assert schedule_outside(late, SUNDAYS) == datetime(2025, 1, 5, 4, 0, tzinfo=UTC)
    # 02:30 Berlin is 01:30 UTC in winter (outside), 00:30 UTC in summer
    assert schedule_outside(schedule("tz", "30 2 * * 0", "Europe/Berlin"), SUNDAYS) is not None
    monthly = RecurringWindow("first-of-month", "0 2 1 * *", timedelta(hours=2), "UTC")
    assert schedule_outside(schedule("weekly", "15 2 * * 0", "UTC"), monthly) is not None


def test_decide_runs_the_latest_firing_while_its_window_is_open() -> None:
    task = schedule("vacuum", "15 2 * * 0", "UTC")
    sunday = datetime(2026, 3, 8, tzinfo=UTC)
    before = sunday + timedelta(hours=2, minutes=14)
    assert decide(task, SUNDAYS, before - timedelta(days=1), before).due is None
    at = sunday + timedelta(hours=2, minutes=15)
    decision = decide(task, SUNDAYS, at - timedelta(hours=2), at)
    assert decision.due == at and decision.missed == []
    assert decision.statement_timeout(timedelta(hours=3), at) == timedelta(hours=1, minutes=45)
    late = sunday + timedelta(hours=4)
    gone = decide(task, SUNDAYS, at - timedelta(minutes=1), late)
    assert gone.due is None and gone.missed == [at]
    week_later = at + timedelta(days=7)
    both = decide(task, SUNDAYS, at - timedelta(minutes=1), week_later)
    assert both.due == week_later and both.missed == [at]
