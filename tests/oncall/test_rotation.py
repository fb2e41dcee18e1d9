"""Schedule arithmetic against a brute-force reference, overrides, restrictions and DST."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsbook.oncall.config import Handoff, Layer, Restriction, Schedule
from opsbook.oncall.gaps import gaps
from opsbook.oncall.rotation import (
    Override,
    anchor,
    local_to_utc,
    on_call,
    shift_at,
    shifts,
    utc_to_local,
)

ZONES = ["Europe/Berlin", "America/New_York", "UTC", "Australia/Lord_Howe", "Asia/Kolkata"]
NAMES = ["ana", "ben", "chen", "dee"]
BERLIN = ZoneInfo("Europe/Berlin")


# --- a brute-force reference: one instant at a time, no intervals, no merging -----------------------


def ref_layer_user(layer: Layer, zone: ZoneInfo, t: datetime) -> str | None:
    first = anchor(layer)

    def boundary(k: int) -> datetime:
        return local_to_utc(first + k * layer.turn, zone)

    if t < boundary(0):
        return None
    if layer.end is not None and t >= local_to_utc(datetime.combine(layer.end, time(0)), zone):
        return None
    lo, hi = 0, 1
    while boundary(hi) <= t:  # largest k with boundary(k) <= t, by doubling then bisection
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if boundary(mid) <= t else (lo, mid)
    if layer.restrictions and not any(in_window(r, zone, t) for r in layer.restrictions):
        return None
    return layer.users[lo % len(layer.users)]


def in_window(r: Restriction, zone: ZoneInfo, t: datetime) -> bool:
    today = utc_to_local(t, zone).date()
    for day in (today - timedelta(days=2), today - timedelta(days=1), today):
        if day.weekday() in r.days:
            opens = datetime.combine(day, r.start)
            if local_to_utc(opens, zone) <= t < local_to_utc(opens + r.length, zone):
                return True
    return False


def ref_on_call(schedule: Schedule, t: datetime, overrides: list[Override]) -> str | None:
    for o in reversed(overrides):
        if o.start <= t < o.end:
            return o.user
    zone = ZoneInfo(schedule.timezone)
    for layer in reversed(schedule.layers):
        user = ref_layer_user(layer, zone, t)
        if user is not None:
            return user
    return None


# --- strategies -------------------------------------------------------------------------------------

T0 = datetime(2025, 1, 1, tzinfo=UTC)
instants = st.integers(0, 2 * 365 * 24 * 60).map(lambda m: T0 + timedelta(minutes=m))
clock_times = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))


@st.composite
def restrictions(draw: st.DrawFn) -> Restriction:
    days = draw(st.lists(st.integers(0, 6), min_size=1, max_size=7, unique=True))
    start = draw(clock_times)
    end = draw(st.one_of(clock_times, st.just(time.max)))
    return Restriction.model_validate({"days": days, "from": start, "to": end})


@st.composite
def layers(draw: st.DrawFn, index: int) -> Layer:
    turn = draw(st.sampled_from([timedelta(hours=h) for h in (1, 5, 8, 12, 24, 48, 72, 168, 336)]
                                + [timedelta(minutes=90)]))
    weekly = turn % timedelta(weeks=1) == timedelta(0)
    weekday = draw(st.one_of(st.none(), st.integers(0, 6))) if weekly else None
    start = draw(st.dates(date(2025, 3, 1), date(2026, 6, 1)))
    end = draw(st.one_of(st.none(), st.integers(1, 400).map(lambda d: start + timedelta(days=d))))
    return Layer(
        name=f"l{index}",
        users=draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=4)),
        turn=turn,
        handoff=Handoff(weekday=weekday, at=draw(clock_times)),
        start=start,
        end=end,
        restrictions=draw(st.lists(restrictions(), max_size=2)),
    )


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    count = draw(st.integers(1, 3))
    zone = draw(st.sampled_from(ZONES))
    return Schedule(name="s", timezone=zone, layers=[draw(layers(i)) for i in range(count)])


@st.composite
def override_lists(draw: st.DrawFn) -> list[Override]:
    out = []
    for i in range(draw(st.integers(0, 3))):
        start = draw(instants)
        out.append(Override(draw(st.sampled_from([*NAMES, "zed"])), start,
                            start + timedelta(minutes=draw(st.integers(1, 5 * 24 * 60))), id=i))
    return out


# --- properties -------------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedules(), override_lists(), st.lists(instants, min_size=1, max_size=5))
def test_on_call_matches_reference_at_any_instant(
    schedule: Schedule, overrides: list[Override], moments: list[datetime]
) -> None:
    probes = list(moments) + [o.start for o in overrides] + [o.end - timedelta(seconds=1) for o in overrides]
    for t in probes:
        assert on_call(schedule, t, overrides) == ref_on_call(schedule, t, overrides), t


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedules(), override_lists(), instants, st.integers(1, 10))
def test_shifts_are_merged_disjoint_and_match_reference(
    schedule: Schedule, overrides: list[Override], start: datetime, days: int
) -> None:
    end = start + timedelta(days=days)
    found = shifts(schedule, start, end, overrides)
    for a, b in itertools.pairwise(found):
        assert a.end <= b.start, "shifts overlap or are out of order"
        assert not (a.end == b.start and a.user == b.user), "adjacent shifts of one user are not merged"
    holes = gaps(schedule, start, end, overrides)
    covered = sum((s.end - s.start for s in found), timedelta())
    covered += sum((g.duration for g in holes), timedelta())
    assert covered == end - start, "shifts and gaps do not tile the range"
    for s in found:
        assert start <= s.start < s.end <= end
        for t in (s.start, s.start + (s.end - s.start) / 2, s.end - timedelta(microseconds=1)):
            assert ref_on_call(schedule, t, overrides) == s.user, (s, t)
    for g in holes:
        for t in (g.start, g.end - timedelta(microseconds=1)):
            assert ref_on_call(schedule, t, overrides) is None, (g, t)


@settings(max_examples=100, deadline=None)
@given(schedules(), override_lists(), instants)
def test_overrides_win_over_every_layer(schedule: Schedule, overrides: list[Override], t: datetime) -> None:
    cover = Override("zed", t - timedelta(hours=1), t + timedelta(hours=1), id=99)
    assert on_call(schedule, t, [*overrides, cover]) == "zed"
    found = shifts(schedule, t - timedelta(hours=1), t + timedelta(hours=1), [*overrides, cover])
    assert [(s.user, s.start, s.end) for s in found] == [("zed", cover.start, cover.end)]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(ZONES), st.datetimes(datetime(2025, 1, 1), datetime(2027, 1, 1)),
       st.datetimes(datetime(2025, 1, 1), datetime(2027, 1, 1)))
def test_local_to_utc_monotonic_and_exact_where_it_exists(zone_name: str, a: datetime, b: datetime) -> None:
    zone = ZoneInfo(zone_name)
    a, b = sorted((a.replace(microsecond=0), b.replace(microsecond=0)))
    ua, ub = local_to_utc(a, zone), local_to_utc(b, zone)
    assert ua <= ub
    if a.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None) == a:
        assert utc_to_local(ua, zone) == a


def test_a_skipped_local_time_starts_at_the_change() -> None:
    # 2026-03-29 02:30 does not exist in Berlin: clocks jump from 02:00 CET to 03:00 CEST at 01:00 UTC
    assert local_to_utc(datetime(2026, 3, 29, 2, 30), BERLIN) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    # 2026-10-25 02:30 happens twice: the first one (CEST) counts
    assert local_to_utc(datetime(2026, 10, 25, 2, 30), BERLIN) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def weekly(zone: str, **extra: object) -> Schedule:
    return Schedule.model_validate({
        "name": "primary", "timezone": zone,
        "layers": [{"name": "weekly", "users": ["ana", "ben", "chen"], "turn": "1w",
                    "handoff": "monday 09:00", "start": "2026-01-01", **extra}],
    })


def test_weekly_handoff_stays_at_nine_local_across_both_dst_changes() -> None:
    for zone_name in ("Europe/Berlin", "America/New_York"):
        zone = ZoneInfo(zone_name)
        schedule = weekly(zone_name)
        year = shifts(schedule, datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
        handoffs = [s.start for s in year]  # the year begins with a gap until the first handoff
        assert len(handoffs) == 52
        for h in handoffs:
            local = utc_to_local(h, zone)
            assert (local.weekday(), local.hour, local.minute) == (0, 9, 0), (zone_name, h)
        lengths = {s.end - s.start for s in year[:-1]}
        # one week is an hour short (spring forward), one an hour long (fall back), the rest exactly 168 h
        assert lengths == {timedelta(hours=167), timedelta(hours=168), timedelta(hours=169)}, zone_name
        assert [s.user for s in year[:4]] == ["ana", "ben", "chen", "ana"]
        # the first handoff is the first Monday on or after the start date, 09:00 local
        assert utc_to_local(year[0].start, zone) == datetime(2026, 1, 5, 9, 0)


def test_berlin_rotation_by_hand() -> None:
    schedule = weekly("Europe/Berlin")
    # Mon 2026-03-23 09:00 CET = 08:00 UTC: chen's turn (ana 5 Jan, ben 12, chen 19, ana 26 Jan ...)
    turn = (datetime(2026, 3, 23) - datetime(2026, 1, 5)).days // 7
    expected = ["ana", "ben", "chen"][turn % 3]
    assert on_call(schedule, datetime(2026, 3, 23, 8, 0, tzinfo=UTC)) == expected
    assert on_call(schedule, datetime(2026, 3, 23, 7, 59, 59, tzinfo=UTC)) != expected
    # after the spring change (29 March), Monday 09:00 CEST is 07:00 UTC
    nxt = ["ana", "ben", "chen"][(turn + 1) % 3]
    assert on_call(schedule, datetime(2026, 3, 30, 7, 0, tzinfo=UTC)) == nxt
    assert on_call(schedule, datetime(2026, 3, 30, 6, 59, tzinfo=UTC)) == expected
    assert on_call(schedule, datetime(2026, 1, 5, 7, 59, tzinfo=UTC)) is None  # before the first handoff


def test_restrictions_leave_nights_and_weekends_to_the_lower_layer() -> None:
    schedule = Schedule.model_validate({
        "name": "primary", "timezone": "Europe/Berlin",
        "layers": [
            {"name": "nights", "users": ["ben"], "turn": "1w", "start": "2026-01-05"},
            {"name": "day", "users": ["ana"], "turn": "1d", "handoff": "09:00", "start": "2026-01-05",
             "restrictions": [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "18:00"}]},
        ],
    })
    monday = datetime(2026, 1, 12, tzinfo=UTC)  # 01:00 Berlin
    week = shifts(schedule, monday, monday + timedelta(days=7))
    days = [(s.user, utc_to_local(s.start, BERLIN), utc_to_local(s.end, BERLIN)) for s in week]
    assert days[0] == ("ben", datetime(2026, 1, 12, 1, 0), datetime(2026, 1, 12, 9, 0))
    assert days[1] == ("ana", datetime(2026, 1, 12, 9, 0), datetime(2026, 1, 12, 18, 0))
    assert days[2] == ("ben", datetime(2026, 1, 12, 18, 0), datetime(2026, 1, 13, 9, 0))
    assert [d[0] for d in days].count("ana") == 5
    assert days[-1] == ("ben", datetime(2026, 1, 16, 18, 0), datetime(2026, 1, 19, 1, 0))


def test_override_covers_a_weekend_then_the_rotation_resumes() -> None:
    schedule = weekly("Europe/Berlin")
    fri = datetime(2026, 1, 16, 17, 0, tzinfo=UTC)  # 18:00 Berlin
    mon = datetime(2026, 1, 19, 8, 0, tzinfo=UTC)  # 09:00 Berlin
    cover = Override("chen", fri, mon, id=7, covers="ben")
    found = shifts(schedule, datetime(2026, 1, 12, 8, 0, tzinfo=UTC), datetime(2026, 1, 26, 8, 0, tzinfo=UTC),
                   [cover])
    assert [(s.user, s.start, s.end) for s in found] == [
        ("ben", datetime(2026, 1, 12, 8, 0, tzinfo=UTC), fri),
        ("chen", fri, datetime(2026, 1, 26, 8, 0, tzinfo=UTC)),  # chen's override runs into chen's own turn
    ]
    assert found[1].sources == ("override:7", "layer:weekly")
    assert found[1].is_override


def test_shift_at_reports_the_whole_shift() -> None:
    schedule = weekly("America/New_York")
    shift = shift_at(schedule, datetime(2026, 3, 11, 12, 0, tzinfo=UTC))  # DST began 8 March
    assert shift is not None
    assert utc_to_local(shift.start, ZoneInfo("America/New_York")) == datetime(2026, 3, 9, 9, 0)
    assert shift.end - shift.start == timedelta(hours=168)


def test_layer_end_and_gaps() -> None:
    schedule = weekly("UTC", end="2026-02-02")
    holes = gaps(schedule, datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 10, tzinfo=UTC))
    assert [(g.start, g.end) for g in holes] == [
        (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 5, 9, 0, tzinfo=UTC)),
        (datetime(2026, 2, 2, tzinfo=UTC), datetime(2026, 2, 10, tzinfo=UTC)),
    ]
