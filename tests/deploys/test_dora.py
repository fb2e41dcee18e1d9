"""The four DORA figures on a constructed month, checked exactly (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from opsbook.deploys.dora import Change, Outage, report


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


SINCE, UNTIL = at(1, 0), datetime(2026, 3, 31, 0, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)

CHANGES = [
    Change("api", "deploy", "succeeded", at(2, 10), at(2, 10, 5), committed_at=at(2, 8, 5)),  # lead 2 h
    Change(
        "api",
        "deploy",
        "rolled_back",
        at(5, 10),
        at(5, 10, 9),
        regression_at=at(5, 10, 3),
        restore_seconds=45,
    ),  # failed: rolled back by itself, healthy 45 s after the regression
    Change("api", "change", "succeeded", at(10, 10), at(10, 10), committed_at=at(9, 10)),  # lead 24 h;
    # an incident 30 min later: failed, restored in 40 min
    Change("api", "deploy", "succeeded", at(12, 10), at(12, 10, 5), committed_at=at(12, 9, 5)),  # lead 1 h;
    Change("api", "rollback", "succeeded", at(12, 10, 20), at(12, 10, 25)),  # ... rolled back by hand: failed
    Change("api", "deploy", "succeeded", at(20, 10), at(20, 10, 5)),  # an incident 2 h later: not its fault
    Change("api", "deploy", "succeeded", datetime(2026, 2, 27, 10, 0, tzinfo=UTC)),  # before the period
    Change("api", "deploy", "interrupted", at(21, 10), at(21, 10, 1)),  # not a deployment
    Change("web", "deploy", "succeeded", at(3, 10), at(3, 10, 2)),  # web's incident 10 min later: failed
]
OUTAGES = [
    Outage(("api",), at(10, 10, 30), at(10, 11, 10)),
    Outage(("api",), at(20, 12), at(20, 13)),
    Outage(("web", "cdn"), at(3, 10, 10), at(3, 10, 20)),
]


def test_dora_figures_of_a_constructed_month() -> None:
    api, web, total = report(CHANGES, OUTAGES, SINCE, UNTIL, HOUR)
    assert (api.service, api.deployments, api.failures, api.days) == ("api", 5, 3, 30.0)
    assert api.per_day == 5 / 30
    assert api.change_failure_rate == 3 / 5
    assert api.lead_time == timedelta(hours=2)  # median of 2 h, 24 h, 1 h
    assert api.time_to_restore == timedelta(minutes=20)  # median of 45 s, 40 min, 20 min (10:05 → 10:25)

    assert (web.service, web.deployments, web.failures) == ("web", 1, 1)
    assert web.lead_time is None and web.time_to_restore == timedelta(minutes=10)

    assert (total.service, total.deployments, total.failures) == ("", 6, 4)
    assert total.change_failure_rate == 4 / 6
    assert total.time_to_restore == timedelta(minutes=15)  # median of 45 s, 10, 20, 40 min


def test_no_deploys_no_figures() -> None:
    [total] = report([], OUTAGES, SINCE, UNTIL, HOUR)
    assert (total.deployments, total.change_failure_rate, total.lead_time, total.time_to_restore) == (
        0,
        None,
        None,
        None,
    )
    assert total.per_day == 0.0
