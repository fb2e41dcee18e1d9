"""Checks probed from three locations, over a real store (SQLite and PostgreSQL) on a fake clock: each
location's results are stored under its unit, the check's own results are the verdicts (one per interval
from the pacer, and one whenever another location changes the verdict), rules fire on the verdicts, and
a silent location makes nothing look down."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from opsbook.alerts.service import AlertEngine
from opsbook.alerts.types import AlertTransition, TransitionKind
from opsbook.checks import store
from opsbook.checks.result import CheckResult, Status, StoredResult
from opsbook.clock import FakeClock
from opsbook.config.loader import parse_config
from opsbook.db.engine import make_engine, make_sessionmaker
from opsbook.dependencies.causes import down_nodes
from opsbook.locations.combine import LocatedStore

CONFIG = """
services:
  - name: web
    checks:
      - name: api
        kind: http
        url: "http://127.0.0.1:1/"
        interval: 60s
        timeout: 10s
        failures: 3
        locations: [eu, us, ap]
        down_when: 2 of 3
"""
CHECK = "web/api"
OFFSET = {"eu": 0, "us": 10, "ap": 20}  # each location's phase within the minute


@dataclass
class Probes:
    sessions: sessionmaker[Session]
    clock: FakeClock
    store: LocatedStore
    engine: AlertEngine
    start: datetime
    fired: list[AlertTransition]

    def report(self, location: str, status: str, round_: int) -> None:
        """`location`'s result of round `round_` (a minute each), written and evaluated as the writer does."""
        ts = self.start + timedelta(minutes=round_, seconds=OFFSET[location])
        self.clock._now = ts  # synchronous: no sleepers to wake
        result = CheckResult(Status(status), 50.0 + OFFSET[location], f"{location} says {status}")
        with self.sessions.begin() as session:
            outcome = self.store.write(session, [StoredResult(f"{CHECK}@{location}", ts, result)])
            assert f"{CHECK}@{location}" not in outcome.check_ids  # rules are the check's, not a unit's
            self.fired += [t for t in self.engine.process(session, outcome.check_ids, ts)
                           if t.kind is TransitionKind.FIRED]

    def round(self, round_: int, **statuses: str) -> None:
        for location in ("eu", "us", "ap"):
            if location in statuses:
                self.report(location, statuses[location], round_)

    def state(self) -> tuple[str | None, str]:
        with self.sessions() as session:
            row = store.states(session, [CHECK])[CHECK]
            return row.status, row.last_message

    def verdicts(self) -> list[tuple[int, str]]:
        """(second since start, status) of the check's own stored results."""
        with self.sessions() as session:
            rows = store.results(session, CHECK, self.start, self.start + timedelta(days=1))
        return [(int((r.ts - self.start).total_seconds()), r.status) for r in reversed(rows)]


@pytest.fixture
def probes(engine: Engine, clock: FakeClock) -> Iterator[Probes]:
    config = parse_config(CONFIG, "opsbook.yaml", {}).config
    yield Probes(make_sessionmaker(engine), clock, LocatedStore(config.checks()), AlertEngine(config),
                 clock.now(), [])


def test_one_location_that_cannot_reach_is_not_down_and_is_shown_disagreeing(probes: Probes) -> None:
    for r in range(6):
        probes.round(r, eu="up", us="up", ap="down")
    assert probes.state() == ("up", "down from ap only")
    assert probes.fired == []
    assert [s for _, s in probes.verdicts()] == ["up"] * 6  # one verdict a minute: eu paces
    assert [t for t, _ in probes.verdicts()] == [60 * r for r in range(6)]
    with probes.sessions() as session:  # each location's results are kept under its unit
        ap = store.results(session, f"{CHECK}@ap", probes.start, probes.start + timedelta(hours=1))
        assert [r.status for r in ap] == ["down"] * 6 and ap[0].message == "ap says down"
        assert store.states(session, [f"{CHECK}@ap"])[f"{CHECK}@ap"].status == "down"
        assert "web" not in down_nodes(session)  # one location down does not make the service a cause


def test_two_locations_down_is_down_at_once_and_failures_count_verdicts(probes: Probes) -> None:
    probes.round(0, eu="up", us="up", ap="down")
    probes.round(1, eu="up", us="down", ap="down")  # us tips the quorum at 1:10
    assert probes.state() == ("down", "down from us, ap (2 of 3); up from eu")
    assert probes.verdicts()[-1] == (70, "down")  # acted on at once, not at eu's next turn
    assert probes.fired == []
    probes.round(2, eu="up", us="down", ap="down")  # 2:00 eu paces: the second down verdict
    assert probes.fired == []
    probes.report("eu", "up", 3)  # 3:00: the third down verdict in a row fires `failures >= 3`
    (fired,) = probes.fired
    assert fired.at == probes.start + timedelta(minutes=3)
    assert "down from us, ap (2 of 3)" in fired.summary
    probes.report("us", "down", 3)
    probes.report("ap", "down", 3)
    assert len(probes.fired) == 1  # fired once
    assert [s for _, s in probes.verdicts()] == ["up", "up", "down", "down", "down"]


def test_a_silent_location_never_makes_its_check_down(probes: Probes) -> None:
    probes.round(0, eu="up", us="up", ap="up")
    for r in range(1, 6):  # ap stops reporting, and us cannot reach the target: one of three
        probes.round(r, eu="up", us="down")
    assert probes.state() == ("up", "down from us only; ap not reporting")
    assert probes.fired == []
    assert {s for _, s in probes.verdicts()} == {"up"}


def test_a_down_result_counts_until_it_is_stale(probes: Probes) -> None:
    probes.round(0, eu="up", us="down", ap="down")
    assert probes.state()[0] == "down"
    probes.round(1, eu="up", us="down")  # ap is silent now, its down of 0:20 still fresh (130 s)
    assert probes.state()[0] == "down"
    probes.round(2, eu="up", us="down")  # 2:00: ap's result is 100 s old, 2:10: still counts
    probes.round(3, eu="up", us="down")  # 3:00: 160 s old: stale, one down of three left
    assert probes.state() == ("up", "down from us only; ap not reporting")
    assert probes.verdicts()[-1] == (180, "up")


def test_the_next_location_paces_when_the_first_goes_silent(probes: Probes) -> None:
    probes.round(0, eu="up", us="up", ap="up")
    for r in range(1, 6):
        probes.round(r, us="up", ap="up")  # eu is gone
    times = [t for t, _ in probes.verdicts()]
    assert times[0] == 0
    # eu still counts as reporting until its result is older than 2 intervals + timeout (130 s): no verdict
    # at 1:10 and 2:10 (us is not the pacer while eu is fresh), then us paces
    assert times[1:] == [190, 250, 310]
    assert probes.state() == ("up", "up from us, ap; eu not reporting")


def test_two_workers_evaluating_each_its_own_verdicts_see_all_of_them(probes: Probes) -> None:
    if probes.sessions.kw["bind"].dialect.name != "postgresql":
        pytest.skip("on SQLite one process writes every verdict")
    other = AlertEngine(parse_config(CONFIG, "opsbook.yaml", {}).config)  # the us and ap workers' engine
    eu_engine, eu_sessions = probes.engine, probes.sessions
    url = probes.sessions.kw["bind"].url.update_query_dict({"application_name": "us-worker"})
    other_db = make_engine(url.render_as_string(hide_password=False))  # another process's connections:
    other_sessions = make_sessionmaker(other_db)  # what it commits reaches only its own windows

    def report(location: str, status: str, round_: int) -> None:
        eu = location == "eu"
        probes.engine, probes.sessions = (eu_engine, eu_sessions) if eu else (other, other_sessions)
        probes.report(location, status, round_)

    for location, status in (("eu", "up"), ("us", "up"), ("ap", "down")):
        report(location, status, 0)
    report("eu", "up", 1)
    report("us", "down", 1)  # the us worker writes the first down verdict, evaluated by its engine
    report("ap", "down", 1)
    report("eu", "up", 2)  # eu's engine must count us's verdict: 2 in a row
    assert probes.fired == []
    report("us", "down", 2)
    report("ap", "down", 2)
    report("eu", "up", 3)  # the third down verdict in a row, two by eu's worker and one by us's
    (fired,) = probes.fired
    assert fired.at == probes.start + timedelta(minutes=3)
    assert eu_engine.shared_windows.loads == 1  # read whole once, then only what is new
    with probes.sessions.begin() as session:  # a transaction that rolls back leaves the window as it was
        store.write_batch(session, [StoredResult(CHECK, probes.start + timedelta(minutes=3, seconds=30),
                                                 CheckResult.up(1.0, "phantom"))])
        eu_engine.process(session, [CHECK], probes.start + timedelta(minutes=3, seconds=30))
        session.rollback()
    with probes.sessions.begin() as session:
        now = probes.start + timedelta(minutes=3, seconds=40)
        seen = eu_engine.shared_windows.samples(session, [CHECK], now)[CHECK]
        read = store.recent(session, [CHECK], now - timedelta(minutes=30), now)[CHECK]
    assert "phantom" not in [s.message for s in seen]
    stored = [(r.ts, r.status, r.message) for r in read if r.ts >= seen[0].ts]
    assert [(s.ts, s.status, s.message) for s in seen] == stored  # messages "as before" filled in too
    assert len({m for _, _, m in stored}) > 1
    other_db.dispose()


def test_recent_after_a_known_result_continues_its_message(engine: Engine, clock: FakeClock) -> None:
    sessions = make_sessionmaker(engine)
    t0 = clock.now()
    with sessions.begin() as session:
        same = CheckResult.up(1.0, "same")  # stored once, then "as before"
        store.write_batch(session, [StoredResult("web/x", t0 + timedelta(seconds=s), same) for s in range(3)])
    with sessions() as session:
        rows = store.recent(session, ["web/x"], t0 - timedelta(seconds=1), t0 + timedelta(seconds=5),
                            known={"web/x": (t0, "same")})["web/x"]
    assert [(r.ts, r.message) for r in rows] == [(t0 + timedelta(seconds=s), "same") for s in (1, 2)]
