"""The one time parser and formatter (opsbook.timefmt): every accepted form, the team's zone and its DST
changes, clear refusals, and what people read (zone abbreviations, lengths of time in words)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opsbook.errors import Invalid
from opsbook.timefmt import (
    SPAN_FORMS,
    WHEN_FORMS,
    TimeInputError,
    parse_since,
    parse_span,
    parse_when,
    show_span,
    show_time,
)

BERLIN = "Europe/Berlin"
NOW = datetime(2026, 3, 9, 3, 14, tzinfo=UTC)  # Monday 04:14 CET


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("NOW", NOW),
        ("+2h", NOW + timedelta(hours=2)),
        ("-30m", NOW - timedelta(minutes=30)),
        ("+ 1h30m", NOW + timedelta(minutes=90)),
        ("in 2 hours", NOW + timedelta(hours=2)),
        ("in 90 minutes", NOW + timedelta(minutes=90)),
        ("2 hours ago", NOW - timedelta(hours=2)),
        ("1 day 2 hours ago", NOW - timedelta(hours=26)),
        ("2h", NOW + timedelta(hours=2)),  # a bare length: from now (what the web form always did)
        ("14:00", datetime(2026, 3, 9, 13, 0, tzinfo=UTC)),
        ("today 14:00", datetime(2026, 3, 9, 13, 0, tzinfo=UTC)),
        ("tomorrow 09:00", datetime(2026, 3, 10, 8, 0, tzinfo=UTC)),
        ("yesterday 23:30:15", datetime(2026, 3, 8, 22, 30, 15, tzinfo=UTC)),
        ("tomorrow", datetime(2026, 3, 9, 23, 0, tzinfo=UTC)),
        ("2026-03-09 14:00", datetime(2026, 3, 9, 13, 0, tzinfo=UTC)),
        ("2026-03-09T14:00", datetime(2026, 3, 9, 13, 0, tzinfo=UTC)),
        ("2026-03-09", datetime(2026, 3, 8, 23, 0, tzinfo=UTC)),
        ("2026-07-01 14:00", datetime(2026, 7, 1, 12, 0, tzinfo=UTC)),  # summer: CEST
        ("2026-03-09T13:00Z", datetime(2026, 3, 9, 13, 0, tzinfo=UTC)),
        ("2026-03-09t13:00z", datetime(2026, 3, 9, 13, 0, tzinfo=UTC)),
        ("2026-03-09T14:00+01:00", datetime(2026, 3, 9, 13, 0, tzinfo=UTC)),
        ("2026-03-09T08:00-05:00", datetime(2026, 3, 9, 13, 0, tzinfo=UTC)),
    ],
)
def test_every_accepted_form(text: str, expected: datetime) -> None:
    found = parse_when(text, now=NOW, zone=BERLIN)
    assert found == expected and found.tzinfo == UTC


def test_local_times_follow_the_teams_zone() -> None:
    assert parse_when("14:00", now=NOW, zone="UTC") == datetime(2026, 3, 9, 14, 0, tzinfo=UTC)
    # in New York it is still Sunday the 8th (23:14 EDT, the clocks went forward that morning)
    assert parse_when("14:00", now=NOW, zone="America/New_York") == datetime(2026, 3, 8, 18, 0, tzinfo=UTC)
    # "today" is the team's today: 23:30 UTC on the 8th is already the 9th in Berlin
    late = datetime(2026, 3, 8, 23, 30, tzinfo=UTC)
    assert parse_when("today 09:00", now=late, zone=BERLIN) == datetime(2026, 3, 9, 8, 0, tzinfo=UTC)
    assert parse_when("today 09:00", now=late, zone="UTC") == datetime(2026, 3, 8, 9, 0, tzinfo=UTC)


def test_a_wall_clock_time_the_clocks_skip_or_repeat() -> None:
    # 2026-03-29 02:30 does not exist in Berlin (02:00 -> 03:00): the instant the clocks jump
    assert parse_when("2026-03-29 02:30", now=NOW, zone=BERLIN) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    # 2026-10-25 02:30 happens twice: the first of the two (still CEST)
    assert parse_when("2026-10-25 02:30", now=NOW, zone=BERLIN) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "text", ["", "  ", "soon", "in soon", "+x", "2026-13-01", "25:00", "today 25:61", "tomorrow noon",
             "2h ago ago", "next week", "12", "in 11000d"],
)
def test_bad_times_are_refused_naming_the_accepted_forms(text: str) -> None:
    with pytest.raises(TimeInputError) as caught:
        parse_when(text, now=NOW, zone=BERLIN)
    assert isinstance(caught.value, Invalid)  # exit 2 in the CLI, 400 from the API
    assert "now, +2h" in str(caught.value) and WHEN_FORMS in str(caught.value)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("2h", 7200), ("90m", 5400), ("1d", 86400), ("1h30m", 5400), ("45s", 45), ("1.5h", 5400),
     ("2 hours", 7200), ("90 minutes", 5400), ("1 day 2 hours", 93600), ("1 hour and 30 mins", 5400),
     ("1w", 604800), ("2 weeks", 1209600), (" 10 MIN ", 600)],
)
def test_lengths_of_time(text: str, seconds: int) -> None:
    assert parse_span(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    "text", ["", "2", "two hours", "2 fortnights", "-1h", "2h ago", "4000d", "1h 2 parsecs"]
)
def test_bad_lengths_are_refused(text: str) -> None:
    with pytest.raises(TimeInputError) as caught:
        parse_span(text)
    assert SPAN_FORMS in str(caught.value) or "longer than ten years" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d", NOW - timedelta(days=30)),
        ("24 hours", NOW - timedelta(hours=24)),
        ("2026-03-01", datetime(2026, 2, 28, 23, 0, tzinfo=UTC)),  # midnight in Berlin
        ("yesterday 09:00", datetime(2026, 3, 8, 8, 0, tzinfo=UTC)),
        ("-2h", NOW - timedelta(hours=2)),
    ],
)
def test_how_far_back_is_a_length_before_now_or_a_time(text: str, expected: datetime) -> None:
    assert parse_since(text, now=NOW, zone=BERLIN) == expected


def test_how_far_back_refuses_naming_both_kinds_of_answer() -> None:
    with pytest.raises(TimeInputError) as refused:
        parse_since("a while", now=NOW, zone=BERLIN)
    assert SPAN_FORMS in str(refused.value) and WHEN_FORMS in str(refused.value)


@given(st.integers(min_value=0, max_value=10 * 365 * 86400 - 1))
def test_a_compact_length_reads_back(seconds: int) -> None:
    parts, rest = [], seconds
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    text = "".join(parts) or "0s"
    assert parse_span(text) == timedelta(seconds=seconds)
    assert parse_when(f"+{text}", now=NOW, zone=BERLIN) == NOW + timedelta(seconds=seconds)
    assert parse_when(f"{text.replace('m', ' minutes ').replace('h', ' hours ')} ago".replace("  ", " "),
                      now=NOW, zone=BERLIN) == NOW - timedelta(seconds=seconds)


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
       st.sampled_from(["UTC", BERLIN, "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]))
def test_what_is_shown_with_its_zone_reads_back_as_the_same_instant(moment: datetime, zone: str) -> None:
    """A time shown to a person (to the second, with its offset) typed back in is the same instant."""
    instant = moment.replace(tzinfo=UTC, microsecond=0)
    local = instant.astimezone(ZoneInfo(zone))
    typed = local.strftime("%Y-%m-%dT%H:%M:%S%z")
    assert parse_when(typed, now=NOW, zone=zone) == instant
    shown = show_time(instant, zone, seconds=True)
    assert shown.startswith(local.strftime("%Y-%m-%d %H:%M:%S "))
    # the wall-clock part alone reads back to the same instant, except the second time of a repeated hour
    if local.fold == 0:
        assert parse_when(shown.rsplit(" ", 1)[0], now=NOW, zone=zone) == instant


def test_times_are_shown_in_the_zone_with_its_abbreviation() -> None:
    assert show_time(NOW, BERLIN) == "2026-03-09 04:14 CET"
    assert show_time(datetime(2026, 7, 1, 12, 0, tzinfo=UTC), BERLIN) == "2026-07-01 14:00 CEST"
    assert show_time(NOW, BERLIN, seconds=True) == "2026-03-09 04:14:00 CET"
    assert show_time(NOW, BERLIN, date=False) == "04:14 CET"
    assert show_time(NOW, "UTC") == "2026-03-09 03:14 UTC"
    assert show_time(NOW, "America/Sao_Paulo") == "2026-03-09 00:14 UTC-03"  # a zone without letters
    assert show_time(NOW, BERLIN, fmt="%a %H:%M") == "Mon 04:14 CET"
    assert show_time(None, BERLIN) == "—"


@pytest.mark.parametrize(
    ("value", "shown"),
    [(None, "—"), (0, "0 s"), (0.25, "0.2 s"), (4.5, "4.5 s"), (12.3, "12 s"), (45, "45 s"), (60, "1 min"),
     (630, "10 min 30 s"), (7507, "2 h 5 min"), (7207, "2 h"), (436800, "5 d 1 h"),
     (121.333 * 3600, "5 d 1 h"), (timedelta(days=7), "7 d"), (timedelta(minutes=45), "45 min"), (-5, "0 s")],
)
def test_lengths_of_time_in_words(value: float | timedelta | None, shown: str) -> None:
    assert show_span(value) == shown


@given(st.integers(min_value=10, max_value=3650 * 86400))
def test_a_length_shown_reads_back_to_what_it_was_rounded_to(seconds: int) -> None:
    """`2 h 5 min` typed back in is the length it showed: less than its smallest unit below the exact one."""
    shown = show_span(seconds)
    back = parse_span(shown).total_seconds()
    smallest = {"s": 1, "min": 60, "h": 3600, "d": 86400}[shown.split()[-1]]
    assert 0 <= seconds - back < smallest
