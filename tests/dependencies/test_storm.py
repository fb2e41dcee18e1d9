"""The dependency storm through the real pipeline on a fake clock: db fails and so do api and worker,
which depend on it; one message goes out, for db, naming the two affected services; the incident of db
lists all three. Recovery resolves everything and announces db's end once. A dependent still down after
the grace pages on its own, in an incident of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from opsbook.alerts.models import AlertRow
from opsbook.clock import FakeClock
from opsbook.incidents.models import IncidentAlertRow, IncidentRow
from opsbook.notify.models import OutboxRow
from opsbook.pipeline import Pipeline
from opsbook.statuspage.build import build_snapshot
from opsbook.statuspage.render import render
from tests.dependencies.conftest import Fleet
from tests.e2e.conftest import Intervals, eventually
from tests.notify.conftest import Receiver
from tests.support import make_runtime

NAMES = ("db", "api", "worker")
SPACING = timedelta(seconds=10)


def config(fleet: Fleet, receiver: Receiver, db_public: bool = False,
           dependents: tuple[str, ...] = NAMES[1:], extra: str = "") -> str:
    """db and its dependents, one check each, `SPACING` apart (spread over their interval); db's firing
    is held two intervals, so every dependent has failed by then."""
    interval = int(SPACING.total_seconds()) * (1 + len(dependents))

    def check(name: str) -> str:
        return (f"[{{name: health, kind: http, url: {fleet.url(name)}, interval: {interval}s, timeout: 2s, "
                "failures: 1}]")

    services = "".join(f"""
  - name: {name}
    public: true
    depends_on: [db]
    checks: {check(name)}""" for name in dependents)
    return f"""
channels:
  - name: ops
    url: {receiver.url("/hook")}
routing:
  P2: {{action: page, channels: [ops]}}
grouping: {{window: 0s}}
incidents: {{auto_resolve: true}}
dependencies: {{grace: 5m, hold: {2 * interval}s}}
services:
  - name: db
    public: {str(db_public).lower()}
    checks: {check("db")}{services}
{extra}"""


def alerts(engine: Engine) -> list[AlertRow]:
    with Session(engine) as s:
        return list(s.scalars(select(AlertRow).order_by(AlertRow.id)))


def incidents(engine: Engine) -> list[tuple[IncidentRow, list[str]]]:
    """Each incident with the services of its alerts still linked (not resolved or detached)."""
    with Session(engine) as s:
        out = []
        for row in s.scalars(select(IncidentRow).order_by(IncidentRow.id)):
            links = s.scalars(select(IncidentAlertRow.service).where(
                IncidentAlertRow.incident_id == row.id, IncidentAlertRow.resolved_at.is_(None)))
            out.append((row, sorted(links)))
        return out


def titles(receiver: Receiver) -> list[str]:
    return [str(b["title"]) for b in receiver.bodies("/hook")]


def outbox(engine: Engine) -> int:
    with Session(engine) as s:
        return len(s.scalars(select(OutboxRow.id)).all())


@dataclass
class Steps(Intervals):
    """The checks run `SPACING` apart (spread over their interval): one run per step, each waited for
    before time moves on (a probe's 2 s timeout is on the fake clock). `next` is one interval."""

    checks: int = 3

    async def next(self, step: timedelta = timedelta(seconds=30)) -> None:
        for _ in range(self.checks):
            await super().next(SPACING)


@dataclass
class Storm:
    pipeline: Pipeline
    clock: FakeClock
    steps: Intervals


@pytest.fixture
def db_public() -> bool:
    return False


@pytest.fixture
def dependents() -> tuple[str, ...]:
    return NAMES[1:]


@pytest.fixture
def extra(request: pytest.FixtureRequest, receiver: Receiver) -> str:
    """More of opsbook.yaml (`indirect` parameter); `{hook}` stands for the receiver's URL."""
    return str(getattr(request, "param", "")).replace("{hook}", receiver.url(""))


@pytest.fixture
async def storm(sqlite_engine: Engine, fleet: Fleet, receiver: Receiver, db_public: bool,
                dependents: tuple[str, ...], extra: str) -> AsyncIterator[Storm]:
    """Started; db fails, then its dependents on their next runs; db's firing waits `hold` (two
    intervals) for them, and goes out."""
    clock = FakeClock(datetime(2026, 3, 2, 3, 0, tzinfo=UTC))
    text = config(fleet, receiver, db_public, dependents, extra)
    pipeline = Pipeline(make_runtime(sqlite_engine, clock, text))
    await pipeline.start()
    try:
        steps = Steps(pipeline, clock, per_interval=1, checks=1 + len(dependents))
        await steps.started()
        fleet.set(500, "db")
        await steps.next()  # db's run fails: its alert fires, held
        fleet.set(500, *dependents)
        await steps.next()  # they fail: caused by db
        assert receiver.bodies("/hook") == []
        await steps.next()
        await steps.next()  # the hold ends: db is announced
        await eventually(lambda: len(receiver.bodies("/hook")) == 1, "the page for db")
        yield Storm(pipeline, clock, steps)
    finally:
        await pipeline.stop()


async def test_one_page_names_the_affected_services_and_recovery_leaves_nothing_open(
    sqlite_engine: Engine, fleet: Fleet, receiver: Receiver, storm: Storm
) -> None:
    pipeline, clock, steps = storm.pipeline, storm.clock, storm.steps
    (page,) = receiver.bodies("/hook")
    assert "FIRING: db/health" in page["title"]
    assert "Affected: 2 services affected, not paged on their own: api, worker" in page["message"]
    by_service = {a.service: a for a in alerts(sqlite_engine)}
    assert {s: a.state for s, a in by_service.items()} == dict.fromkeys(NAMES, "firing")
    assert by_service["api"].silenced_by == by_service["worker"].silenced_by == "caused by db"
    assert not by_service["db"].silenced
    ((incident, linked),) = incidents(sqlite_engine)
    assert linked == ["api", "db", "worker"] and incident.services == ["db", "api", "worker"]
    with Session(sqlite_engine) as session:  # the public page: db's outage once, under the public services
        status = build_snapshot(session, pipeline.runtime.config, clock.now())
    (shown,) = status.active_incidents
    assert (shown.title, shown.services) == ("Major outage: api, worker", ["api", "worker"])
    assert [(s.name, s.state.value) for s in status.services] == [("api", "major_outage"),
                                                                ("worker", "major_outage")]

    for _ in range(3):  # still down: nothing more
        await steps.next()
    assert len(receiver.bodies("/hook")) == 1

    fleet.set(200, *NAMES)
    await steps.next()
    await steps.next()
    await eventually(lambda: len(receiver.bodies("/hook")) == 3, "db's resolve and its incident's")
    assert sorted(titles(receiver)) == [
        "[P2] FIRING: db/health: db/health failed 1 times in a row",
        "[P2] Incident #1 db: db/health failed 1 times in a row — Resolved",
        "[P2] RESOLVED: db/health: db/health failed 1 times in a row",
    ]
    assert {a.state for a in alerts(sqlite_engine)} == {"resolved"}
    ((incident, linked),) = incidents(sqlite_engine)
    assert (incident.status, linked) == ("resolved", [])
    clock_after = clock.now() + timedelta(minutes=10)
    while clock.now() < clock_after:  # the grace passes: nothing is released, nothing else sent
        await steps.next()
    pipeline.unmute_once()
    await pipeline.notifier.run_once()
    assert len(receiver.bodies("/hook")) == 3 and outbox(sqlite_engine) == 3


async def test_a_dependent_still_down_after_the_grace_pages_on_its_own(
    sqlite_engine: Engine, fleet: Fleet, receiver: Receiver, storm: Storm
) -> None:
    pipeline, clock, steps = storm.pipeline, storm.clock, storm.steps
    fleet.set(200, "db", "worker")  # api stays down
    await steps.next()
    await steps.next()
    await eventually(lambda: len(receiver.bodies("/hook")) == 2, "db's resolve")
    recovered = next(a for a in alerts(sqlite_engine) if a.service == "db").resolved_at
    assert recovered is not None
    ((incident, linked),) = incidents(sqlite_engine)
    assert (incident.status, linked) == ("triggered", ["api"])  # api is still attributed to db

    assert pipeline.unmute_once() == recovered + timedelta(minutes=5)  # when the grace ends
    while clock.now() < recovered + timedelta(minutes=4, seconds=30):
        await steps.next()
    pipeline.unmute_once()
    await pipeline.notifier.run_once()
    assert len(receiver.bodies("/hook")) == 2  # within the grace: still attributed to db

    while clock.now() < recovered + timedelta(minutes=5):
        await steps.next()
    pipeline.unmute_once()
    await pipeline.notifier.run_once()
    await eventually(lambda: len(receiver.bodies("/hook")) == 4, "api's own page")
    assert sorted(titles(receiver)[2:]) == [  # db's incident ends as api leaves it; api pages itself
        "[P2] FIRING: api/health: api/health failed 1 times in a row",
        "[P2] Incident #1 db: db/health failed 1 times in a row — Resolved",
    ]
    own = next(b for b in receiver.bodies("/hook") if "FIRING: api" in str(b["title"]))
    assert "Affected" not in own["message"]
    api = next(a for a in alerts(sqlite_engine) if a.service == "api")
    assert (api.state, api.silenced, api.silenced_by) == ("firing", False, None)
    (db_incident, db_linked), (api_incident, api_linked) = incidents(sqlite_engine)
    assert (db_incident.status, db_linked) == ("resolved", [])
    assert (api_incident.status, api_incident.services, api_linked) == ("triggered", ["api"], ["api"])

    fleet.set(200, "api")
    await steps.next()
    await steps.next()
    await eventually(lambda: len(receiver.bodies("/hook")) == 6, "api's resolve and its incident's")
    assert sorted(titles(receiver)[4:]) == [
        "[P2] Incident #2 api: api/health failed 1 times in a row — Resolved",
        "[P2] RESOLVED: api/health: api/health failed 1 times in a row",
    ]
    assert incidents(sqlite_engine)[1][0].status == "resolved"


@pytest.mark.parametrize("db_public", [True])
async def test_the_status_page_shows_a_public_dependency_once_with_its_dependents_under_it(
    sqlite_engine: Engine, storm: Storm
) -> None:
    with Session(sqlite_engine) as session:
        page = build_snapshot(session, storm.pipeline.runtime.config, storm.clock.now())
    (shown,) = page.active_incidents
    assert (shown.title, shown.cause, shown.affected) == ("Major outage: db", "db", ["api", "worker"])
    html = render(page, storm.pipeline.runtime.config).html.decode()
    assert html.count("Major outage: db<") == 1
    assert "<li>api (depends on db)</li><li>worker (depends on db)</li>" in html


EIGHT = ("api", "web", "worker", "search", "billing", "mail", "reports", "admin")


@pytest.mark.parametrize("dependents", [EIGHT])
async def test_the_dependency_storm_of_eight_services_is_one_page(
    sqlite_engine: Engine, fleet: Fleet, receiver: Receiver, storm: Storm
) -> None:
    """The issue's scenario: a database and eight services that need it, all failing when it fails: one
    page with "8 services affected" and nothing else; on recovery every alert resolves and db's resolve
    (and its incident's) go out, nothing for the eight."""
    (page,) = receiver.bodies("/hook")
    assert "Affected: 8 services affected, not paged on their own: " in page["message"]
    assert ", ".join(sorted(EIGHT)) in page["message"]
    caused = [a.service for a in alerts(sqlite_engine) if a.silenced_by == "caused by db"]
    assert sorted(caused) == sorted(EIGHT)
    ((_, linked),) = incidents(sqlite_engine)
    assert linked == sorted(["db", *EIGHT])

    fleet.set(200, "db", *EIGHT)
    await storm.steps.next()
    await storm.steps.next()
    await eventually(lambda: len(receiver.bodies("/hook")) == 3, "db's resolve and its incident's")
    assert sorted(titles(receiver)) == [
        "[P2] FIRING: db/health: db/health failed 1 times in a row",
        "[P2] Incident #1 db: db/health failed 1 times in a row — Resolved",
        "[P2] RESOLVED: db/health: db/health failed 1 times in a row",
    ]
    assert {a.state for a in alerts(sqlite_engine)} == {"resolved"} and len(alerts(sqlite_engine)) == 9
    assert incidents(sqlite_engine)[0][0].status == "resolved"


ON_CALL = """
users:
  - {name: ana, contacts: [{url: "{hook}/ana"}]}
escalation_policies:
  - {name: default, levels: [{targets: ["user:ana"]}]}
"""


@pytest.mark.parametrize("extra", [ON_CALL], indirect=True)
async def test_the_person_on_call_is_paged_once_with_the_count(
    sqlite_engine: Engine, receiver: Receiver, storm: Storm
) -> None:
    await eventually(lambda: len(receiver.bodies("/ana")) == 1, "ana's page")
    (page,) = receiver.bodies("/ana")
    assert str(page["title"]).startswith("[P2] Incident #1")
    affected = "Affected: 2 services affected, not paged on their own: api, worker"
    assert f"Service:  db\n{affected}" in page["message"]
