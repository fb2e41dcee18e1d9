"""Recurring window arithmetic: cron + duration + time zone, daylight saving time included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from hypothesis import given, settings
from hypothesis import strategies as st

from opsbook.silences.windows import (
    Occurrence,
    RecurringWindow,
    active_at,
    check_cron,
    next_change,
    next_occurrences,
    occurrence_at,
    occurrences_between,
)

BERLIN = ZoneInfo("Europe/Berlin")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[arg-type,misc]


def berlin(*args: int, fold: int = 0) -> datetime:
    """Berlin wall-clock time as a UTC instant (aware datetimes in an ambiguous hour never equal others)."""
    return datetime(*args, tzinfo=BERLIN, fold=fold).astimezone(UTC)  # type: ignore[arg-type,misc]


SUNDAY_DB = RecurringWindow("sunday-db", "0 2 * * 0", timedelta(hours=2), "UTC")


def test_sundays_two_to_four_utc() -> None:
    sunday = utc(2024, 1, 7)
    assert not active_at(SUNDAY_DB, sunday + timedelta(hours=1, minutes=59, seconds=59))
    assert active_at(SUNDAY_DB, sunday + timedelta(hours=2))
    assert active_at(SUNDAY_DB, sunday + timedelta(hours=3, minutes=59, seconds=59, microseconds=999999))
    assert not active_at(SUNDAY_DB, sunday + timedelta(hours=4))
    assert not active_at(SUNDAY_DB, utc(2024, 1, 8, 3))  # Monday
    assert occurrence_at(SUNDAY_DB, utc(2024, 1, 7, 3)) == Occurrence(utc(2024, 1, 7, 2), utc(2024, 1, 7, 4))


def test_next_occurrences_start_strictly_after() -> None:
    found = next_occurrences(SUNDAY_DB, utc(2024, 1, 7, 2), 3)
    assert [o.start for o in found] == [utc(2024, 1, 14, 2), utc(2024, 1, 21, 2), utc(2024, 1, 28, 2)]
    assert all(o.end - o.start == timedelta(hours=2) for o in found)
    assert next_occurrences(SUNDAY_DB, utc(2024, 1, 7, 1, 59, 59), 1)[0].start == utc(2024, 1, 7, 2)
    assert next_occurrences(SUNDAY_DB, utc(2024, 1, 7), 0) == []


def test_time_zone_is_applied() -> None:
    window = RecurringWindow("w", "0 2 * * *", timedelta(hours=1), "America/New_York")
    assert next_occurrences(window, utc(2024, 1, 10), 1)[0].start == utc(2024, 1, 10, 7)  # EST = UTC-5
    assert next_occurrences(window, utc(2024, 7, 10), 1)[0].start == utc(2024, 7, 10, 6)  # EDT = UTC-4


BERLIN_0230 = RecurringWindow("nightly", "30 2 * * *", timedelta(hours=1), "Europe/Berlin")


def test_berlin_0230_on_an_ordinary_day_follows_the_offset() -> None:
    assert next_occurrences(BERLIN_0230, utc(2024, 1, 15), 1)[0].start == utc(2024, 1, 15, 1, 30)  # CET
    assert next_occurrences(BERLIN_0230, utc(2024, 7, 15), 1)[0].start == utc(2024, 7, 15, 0, 30)  # CEST


def test_berlin_0230_in_spring_starts_right_after_the_gap() -> None:
    # 2024-03-31: clocks jump from 02:00 CET to 03:00 CEST; 02:30 does not exist that night.
    starts = [o.start for o in next_occurrences(BERLIN_0230, utc(2024, 3, 29, 12), 3)]
    assert starts == [berlin(2024, 3, 30, 2, 30), berlin(2024, 3, 31, 3, 0), berlin(2024, 4, 1, 2, 30)]
    assert starts[1] == utc(2024, 3, 31, 1, 0)
    assert not active_at(BERLIN_0230, utc(2024, 3, 31, 0, 59))
    assert active_at(BERLIN_0230, utc(2024, 3, 31, 1, 0))
    assert active_at(BERLIN_0230, utc(2024, 3, 31, 1, 59))
    assert not active_at(BERLIN_0230, utc(2024, 3, 31, 2, 0))  # one hour of real time


def test_berlin_0230_in_autumn_runs_once() -> None:
    # 2024-10-27: 02:00-03:00 happens twice (CEST, then CET); a fixed-time window starts at the first.
    starts = [o.start for o in next_occurrences(BERLIN_0230, utc(2024, 10, 26, 12), 2)]
    assert starts == [berlin(2024, 10, 27, 2, 30), berlin(2024, 10, 28, 2, 30)]
    assert starts[0] == utc(2024, 10, 27, 0, 30)
    assert active_at(BERLIN_0230, berlin(2024, 10, 27, 2, 45))
    assert active_at(BERLIN_0230, berlin(2024, 10, 27, 2, 15, fold=1))  # 01:15 UTC, still the first hour
    assert not active_at(BERLIN_0230, berlin(2024, 10, 27, 2, 45, fold=1))  # 01:45 UTC: no second start
    assert occurrence_at(BERLIN_0230, berlin(2024, 10, 27, 2, 45, fold=1)) is None
    between = occurrences_between(BERLIN_0230, utc(2024, 10, 26, 12), utc(2024, 10, 27, 12))
    assert [o.start for o in between] == [utc(2024, 10, 27, 0, 30)]


def test_wildcard_hours_fire_in_both_copies_of_the_repeated_hour() -> None:
    window = RecurringWindow("half-hourly", "*/30 * * * *", timedelta(minutes=10), "Europe/Berlin")
    starts = [o.start for o in occurrences_between(window, utc(2024, 10, 27, 0), utc(2024, 10, 27, 2))]
    assert starts == [utc(2024, 10, 27, h, m) for h in (0, 1) for m in (0, 30)]
    assert active_at(window, berlin(2024, 10, 27, 2, 35, fold=1))


def test_overlapping_occurrences_and_next_change() -> None:
    window = RecurringWindow("overlap", "0 * * * *", timedelta(minutes=90), "UTC")
    t = utc(2024, 5, 1, 10, 20)
    assert occurrence_at(window, t) == Occurrence(utc(2024, 5, 1, 10), utc(2024, 5, 1, 11, 30))
    assert all(active_at(window, t + timedelta(minutes=m)) for m in range(0, 300, 7))
    assert next_change(window, t) == utc(2024, 5, 1, 10, 30)  # the 09:00 occurrence ends
    assert next_change(SUNDAY_DB, utc(2024, 1, 7, 3)) == utc(2024, 1, 7, 4)
    assert next_change(SUNDAY_DB, utc(2024, 1, 7, 4)) == utc(2024, 1, 14, 2)


def test_occurrences_between_includes_one_in_progress() -> None:
    found = occurrences_between(SUNDAY_DB, utc(2024, 1, 7, 3), utc(2024, 1, 21, 3))
    assert [o.start for o in found] == [utc(2024, 1, 7, 2), utc(2024, 1, 14, 2), utc(2024, 1, 21, 2)]


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("0 2 * *", "5 fields"),
        ("0 2 * * * 5", "5 fields"),
        ("61 2 * * *", "not a valid cron"),
        ("0 2 31 2 *", "never fires"),
        ("every sunday", "5 fields"),
    ],
)
def test_bad_cron(expr: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_cron(expr)


def test_aliases_and_validation() -> None:
    assert check_cron("@weekly") == "0 0 * * 0"
    assert check_cron("  0  2 * *   0 ") == "0 2 * * 0"
    with pytest.raises(ValueError, match="positive"):
        RecurringWindow("w", "0 2 * * *", timedelta(0))
    with pytest.raises(ValueError, match="naive"):
        active_at(SUNDAY_DB, datetime(2024, 1, 7, 3))


# --- properties -----------------------------------------------------------------------------------

CRONS = ["0 2 * * 0", "30 2 * * *", "*/15 * * * *", "0 9-17 * * 1-5", "45 23 L * *", "0 0 1 1 *",
         "5 */3 * * *"]
instants = st.datetimes(
    min_value=datetime(2023, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
).map(lambda t: t.replace(microsecond=0))
durations = st.integers(min_value=1, max_value=180).map(lambda m: timedelta(minutes=m))


@settings(max_examples=150, deadline=None)
@given(expr=st.sampled_from(CRONS), t=instants, duration=durations,
       zone=st.sampled_from(["UTC", "Asia/Kolkata", "Asia/Tokyo"]))
def test_active_iff_within_an_occurrence_croniter_gives(expr: str, t: datetime, duration: timedelta,
                                                        zone: str) -> None:
    """Oracle (zones without DST): some minute m in (t - duration, t] is a cron match in local time."""
    window = RecurringWindow("w", expr, duration, zone)
    tz = ZoneInfo(zone)
    first = (t - duration).replace(second=0) + timedelta(minutes=1)
    minutes = [first + timedelta(minutes=i) for i in range(int((t - first).total_seconds() // 60) + 1)]
    expected = any(croniter.match(expr, m.astimezone(tz).replace(tzinfo=None)) for m in minutes)
    assert active_at(window, t) == expected


dst_instants = st.sampled_from([utc(2024, 3, 31, 1), utc(2024, 10, 27, 1), utc(2025, 3, 30, 1),
                                utc(2025, 10, 26, 1)]).flatmap(
    lambda base: st.integers(min_value=-36 * 60, max_value=36 * 60).map(lambda m: base + timedelta(minutes=m))
)


@settings(max_examples=200, deadline=None)
@given(expr=st.sampled_from([*CRONS, "30 2 * * *", "0 3 * * *", "15 2 * * 0", "*/20 2 * * *"]),
       t=dst_instants, duration=durations)
def test_active_at_agrees_with_the_occurrence_list_across_dst(expr: str, t: datetime,
                                                              duration: timedelta) -> None:
    """Around Europe/Berlin's DST changes, the backward search agrees with the forward enumeration."""
    window = RecurringWindow("w", expr, duration, "Europe/Berlin")
    listed = occurrences_between(window, t - timedelta(days=2), t + timedelta(minutes=1))
    containing = [o for o in listed if o.contains(t)]
    assert active_at(window, t) == bool(containing)
    assert occurrence_at(window, t) == (containing[-1] if containing else None)
    starts = [o.start for o in listed]
    assert starts == sorted(set(starts))  # strictly increasing: never the same start twice
    change = next_change(window, t)
    around = occurrences_between(window, t - timedelta(days=2), change + timedelta(minutes=1))
    edges = {o.start for o in around} | {o.end for o in around}
    assert change in edges
    assert not any(t < edge < change for edge in edges)
