"""SLO arithmetic against constructed state-change histories, exactly: the service's down and known time
from its checks, maintenance cut out, budget used == downtime / allowed, windows cut at their boundaries,
and the burn alerts' next change found where a brute-force walk over every instant finds it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from opsbook.checks.uptime import StateHistory
from opsbook.slo.budget import Counted, counted, measure
from opsbook.slo.burn import BurnRule, Window
from opsbook.slo.timeline import SECOND, inside, micros, minus, service_time, union

T0 = datetime(2026, 11, 1, tzinfo=UTC)
S = SECOND


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def us(seconds: float) -> int:
    return micros(at(seconds))


def test_service_down_while_any_known_check_is_down() -> None:
    web = StateHistory("up", [(at(100), "down"), (at(160), "up"), (at(400), "degraded")])
    ping = StateHistory(None, [(at(130), "down"), (at(200), "up")])  # unknown until 130
    time = service_time([web, ping], us(0), us(1000))
    assert time.down == ((us(100), us(200)),)  # 100-160 web, 130-200 ping: one span
    assert time.known == ((us(0), us(1000)),)
    alone = service_time([ping], us(0), us(1000))
    assert alone.known == ((us(130), us(1000)),)  # nothing known of it before its first state
    assert alone.down == ((us(130), us(200)),)


def test_a_window_is_cut_at_its_boundaries_and_maintenance_counts_for_nothing() -> None:
    # down 10:00-11:00 (3600 s), maintenance 10:30-12:00 of a 24 h window at 99.9 %
    time = service_time([StateHistory("up", [(at(36000), "down"), (at(39600), "up")])], us(0), us(86400))
    found = counted(time, union([(us(37800), us(43200))]))
    target = Fraction(999, 1000)
    day = measure(found, us(0), us(86400), target)
    assert day.bad_us == 1800 * S and day.eligible_us == (86400 - 5400) * S
    assert day.allowed_us == Fraction(81000 * S, 1000)  # 81 s of budget
    assert day.budget_used == Fraction(1800, 81)
    assert day.sli == Fraction(81000 - 1800, 81000) and day.met is False
    assert measure(found, us(36600), us(37200), target).bad_us == 600 * S  # only the window's part
    assert measure(found, us(36000), us(36000), target).sli is None  # nothing eligible: no figure
    whole = measure(counted(time, ()), us(0), us(86400), target)  # maintenance counted
    assert whole.bad_us == 3600 * S and whole.burn_rate == Fraction(3600, 86400) / Fraction(1, 1000)


changes = st.lists(
    st.tuples(st.integers(1, 9_999), st.sampled_from(["up", "down", "degraded"])), max_size=12
).map(lambda xs: sorted(dict(xs).items()))


@settings(max_examples=150, deadline=None)
@given(
    checks=st.lists(st.tuples(st.sampled_from([None, "up", "down"]), changes), min_size=1, max_size=3),
    cuts=st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 3_000)), max_size=3),
    window=st.tuples(st.integers(0, 10_000), st.integers(0, 10_000)).map(sorted),
    target=st.sampled_from([Fraction(99, 100), Fraction(999, 1000), Fraction(9995, 10000)]),
)
def test_budget_used_is_downtime_over_allowed(checks, cuts, window, target) -> None:  # type: ignore[no-untyped-def]
    histories = [StateHistory(b, [(at(s), status) for s, status in cs]) for b, cs in checks]
    time = service_time(histories, us(0), us(10_000))
    excluded = union((us(a), us(a + n)) for a, n in cuts)
    found = counted(time, excluded)
    start, end = us(window[0]), us(window[1])
    figures = measure(found, start, end, target)

    # the same second by second: down iff some check known and down; excluded seconds left out
    def state(b: str | None, cs: list[tuple[int, str]], second: int) -> str | None:
        for ts, status in cs:
            if ts <= second:
                b = status
        return b

    bad = eligible = 0
    for second in range(window[0], window[1]):
        if any(a <= second < a + n for a, n in cuts):
            continue
        states = [state(b, cs, second) for b, cs in checks]
        if any(s is not None for s in states):
            eligible += 1
            bad += any(s == "down" for s in states)
    assert (figures.bad_us, figures.eligible_us) == (bad * S, eligible * S)
    if eligible:
        assert figures.budget_used == Fraction(bad * S) / ((1 - target) * eligible * S)
        assert figures.budget_left == 1 - figures.budget_used
        assert figures.sli == Fraction(eligible - bad, eligible)
    else:
        assert figures.budget_used is None and figures.sli is None


@settings(max_examples=100, deadline=None)
@given(
    spans=st.lists(st.tuples(st.integers(0, 400), st.integers(1, 120)), max_size=5),
    holes=st.lists(st.tuples(st.integers(0, 400), st.integers(1, 60)), max_size=3),
    length=st.integers(5, 120),
    share=st.sampled_from([Fraction(1, 10), Fraction(72, 5000), Fraction(1, 3), Fraction(3, 4)]),
    now=st.integers(0, 300),
)
def test_next_change_is_the_first_instant_the_condition_flips(spans, holes, length, share, now) -> None:  # type: ignore[no-untyped-def]
    # whole seconds as the unit of time here: the solver works on any integer instants
    eligible = minus(union([(0, 500)]), union((a, a + n) for a, n in holes))
    bad = minus(union((a, a + n) for a, n in spans), union((a, a + n) for a, n in holes))
    found = Counted(eligible, bad)
    window = Window(length, share)
    change = window.next_change(found, now, 500)
    current = window.burning(found, now)
    walk = next((t for t in range(now + 1, 501) if window.burning(found, t) != current), None)
    assert change == walk
    for t in range(now, 500):  # the condition is what it says, at every instant
        bad_t, elig_t = inside(bad, t - length, t), inside(eligible, t - length, t)
        assert window.burning(found, t) == (bad_t > 0 and bad_t >= share * elig_t)
    rule = BurnRule(window, Window(max(length // 4, 1), share))  # both windows: the alert's own flips
    firing = rule.firing(found, now)
    flip = next((t for t in range(now + 1, 501) if rule.firing(found, t) != firing), None)
    assert rule.next_change(found, now, 500) == flip


def test_fast_burn_fires_after_its_share_of_the_hour_and_stops_as_the_short_window_clears() -> None:
    # up for a day, then down from 12:00 for 10 minutes: 14.4× at 99.9 % needs 51.84 s of the hour down
    # and 4.32 s of the 5 minutes; it stops once the last 5 minutes hold under 4.32 s of downtime
    history = StateHistory("up", [(at(43200), "down"), (at(43800), "up")])
    time = service_time([history], us(0), us(90000))
    found = counted(time, ())
    rule = BurnRule.of(14.4, 3600 * S, 300 * S, Fraction(999, 1000))
    fires = rule.next_change(found, us(43200), us(90000))
    assert fires == us(43200) + 51_840_000  # 51.84 s into the outage (the long window decides)
    assert rule.firing(found, fires) and not rule.firing(found, fires - 1)
    stops = rule.next_change(found, us(43800), us(90000))
    assert stops == us(43800) + 295_680_001  # the 5 min window holds 4.32 s: the next µs it holds less
    assert rule.firing(found, stops - 1) and not rule.firing(found, stops)
