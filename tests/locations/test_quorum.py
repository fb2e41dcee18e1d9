"""The quorum of a check probed from several locations: its forms, the verdict from each location's newest
result (silent locations vote neither way), the pacer, and the config errors at FILE:LINE."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from opsbook.config.loader import parse_config
from opsbook.config.yamlpos import ConfigError
from opsbook.locations.quorum import Quorum, Report, fresh_for, pacer, verdict
from opsbook.locations.units import probe_units, split, unit_id

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
FRESH = fresh_for(timedelta(seconds=60), timedelta(seconds=10))  # 130 s
WHERE = ["eu", "us", "ap"]


def at(seconds: float, status: str, latency: float | None = 100.0) -> Report:
    return Report(T0 + timedelta(seconds=seconds), status, latency)


@pytest.mark.parametrize(("text", "needed"), [
    ("2 of 3", 2), ("majority", 2), ("all", 3), ("any", 1), (" 3  of 3 ", 3), ("MAJORITY", 2),
])
def test_quorum_forms(text: str, needed: int) -> None:
    assert Quorum.parse(text, 3) == Quorum(needed, 3)


@pytest.mark.parametrize(("text", "error"), [
    ("most", "unknown quorum"), ("2/3", "unknown quorum"), ("4 of 3", "larger than"),
    ("2 of 4", "counts 4 locations"), ("0 of 3", "at least one"),
])
def test_bad_quorums(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        Quorum.parse(text, 3)


def test_majority_of_two_is_both_and_of_four_is_three() -> None:
    assert Quorum.majority(2).needed == 2
    assert Quorum.majority(4).needed == 3
    assert Quorum.majority(1).needed == 1


def test_one_location_down_is_not_down_and_says_so() -> None:
    now = T0 + timedelta(seconds=30)
    latest = {"eu": at(0, "up"), "us": at(10, "up"), "ap": at(20, "down")}
    v = verdict(WHERE, Quorum(2, 3), latest, now, FRESH)
    assert v.status == "up"
    assert v.disagreeing == ("ap",)
    assert v.message == "down from ap only"


def test_two_locations_down_is_down_and_names_the_one_that_disagrees() -> None:
    now = T0 + timedelta(seconds=30)
    v = verdict(WHERE, Quorum(2, 3),
                {"eu": at(0, "down", 5.0), "us": at(10, "up", 7.0), "ap": at(20, "down", 9.0)}, now, FRESH)
    assert v.status == "down"
    assert v.down_from == ("eu", "ap")
    assert v.disagreeing == ("us",)
    assert v.message == "down from eu, ap (2 of 3); up from us"
    assert v.latency_ms == 7.0  # the median of the locations' newest latencies


def test_a_silent_location_votes_neither_way() -> None:
    now = T0 + FRESH + timedelta(seconds=1)  # eu's result (at 0) is now older than the bound
    v = verdict(WHERE, Quorum(2, 3), {"eu": at(0, "down"), "us": at(10, "down"), "ap": None}, now, FRESH)
    assert v.silent == ("eu", "ap")
    assert v.status == "up"  # one fresh down of three is no quorum; the silent ones do not count as down
    assert v.message == "down from us only; eu, ap not reporting"
    v = verdict(WHERE, Quorum(2, 3), {"eu": at(0, "down"), "us": at(10, "down"), "ap": None},
                T0 + timedelta(seconds=20), FRESH)
    assert v.status == "down" and v.silent == ("ap",)


def test_degraded_needs_the_quorum_of_slow_or_failing_locations() -> None:
    now = T0 + timedelta(seconds=30)
    v = verdict(WHERE, Quorum(2, 3), {"eu": at(0, "degraded"), "us": at(10, "down"), "ap": at(20, "up")}, now,
                FRESH)
    assert v.status == "degraded"
    assert v.message == "degraded from us, eu (2 of 3)"


def test_all_up() -> None:
    v = verdict(WHERE, Quorum(2, 3), {w: at(0, "up") for w in WHERE}, T0, FRESH)
    assert (v.status, v.message, v.disagreeing) == ("up", "up from eu, us, ap", ())


def test_the_pacer_is_the_first_reporting_location() -> None:
    latest = {"eu": at(0, "up"), "us": at(100, "up"), "ap": at(110, "up")}
    assert pacer(WHERE, latest, T0 + timedelta(seconds=120), FRESH) == "eu"
    assert pacer(WHERE, latest, T0 + timedelta(seconds=131), FRESH) == "us"  # eu went silent: us paces
    assert pacer(WHERE, {}, T0, FRESH) is None


def test_units() -> None:
    assert unit_id("web/api", "eu") == "web/api@eu"
    assert split("web/api@eu") == ("web/api", "eu")
    assert split("web/api") == ("web/api", None)


CONFIG = """
services:
  - name: web
    checks:
      - {name: home, kind: http, url: "http://127.0.0.1:1/"}
      - {name: api, kind: http, url: "http://127.0.0.1:1/", locations: [eu, us, ap], down_when: 2 of 3}
"""


def test_probe_units_per_process() -> None:
    checks = parse_config(CONFIG, "opsbook.yaml").config.checks()
    assert set(probe_units(checks, "eu", clustered=True)) == {"web/home", "web/api@eu"}
    assert set(probe_units(checks, None, clustered=True)) == {"web/home"}  # runs only the unlocated
    assert set(probe_units(checks, None, clustered=False)) == {"web/home", "web/api"}  # SQLite: once
    assert checks["web/api"].quorum == Quorum(2, 3)
    assert parse_config(CONFIG.replace(", down_when: 2 of 3", ""), "x.yaml").config.checks()[
        "web/api"].quorum == Quorum(2, 3)  # the default: a majority


@pytest.mark.parametrize(("fields", "error"), [
    ("locations: [eu, us, ap], down_when: 4 of 3", "4:.*down_when: '4 of 3': the quorum is larger"),
    ("locations: [eu, us], down_when: most", "4:.*down_when: unknown quorum 'most'"),
    ("down_when: all", "4:.*down_when: down_when needs `locations:`"),
    ("locations: [eu, eu]", "4:.*locations: location listed twice: eu"),
    ("locations: [EU]", "4:.*locations"),
])
def test_config_errors_name_file_line_and_field(fields: str, error: str) -> None:
    text = f"""services:
  - name: web
    checks:
      - {{name: api, kind: http, url: "http://127.0.0.1:1/", {fields}}}
"""
    with pytest.raises(ConfigError, match=f"opsbook.yaml:{error}"):
        parse_config(text, "opsbook.yaml")


def test_a_heartbeat_takes_no_locations() -> None:
    text = """services:
  - name: jobs
    checks:
      - {name: nightly, kind: heartbeat, period: 1d, locations: [eu]}
"""
    with pytest.raises(ConfigError, match=r"opsbook\.yaml:4:.*not probed from anywhere"):
        parse_config(text, "opsbook.yaml")
