"""Burn-rate alerts through the alert pipeline on the fake clock, on SQLite and PostgreSQL: a service up
for ten days goes down at T0; at 99.9 % the fast burn (14.4× over 1 h and 5 min) fires 51.84 s in and
pages, the slow one (6× over 6 h and 30 min) 129.6 s in and notifies, the steady one (1× over 3 d and
6 h) 259.2 s in; ten minutes later it is back, and the fast burn resolves the microsecond the last five
minutes hold less than 4.32 s of downtime (295.68 s after), the others later, each by its short window.
Maintenance excluded keeps downtime in it from burning at all; still down when it ends, only the time
since counts in the fast burn's hour, all of it bad: it fires at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from opsbook.alerts.models import AlertRow
from opsbook.checks.models import StateChangeRow
from opsbook.clock import FakeClock
from opsbook.incidents.models import IncidentRow
from opsbook.notify.models import OutboxRow
from opsbook.runtime import Runtime
from opsbook.secrets.alerting import deliver
from opsbook.slo import service
from tests.support import make_runtime

T0 = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
CHECK = "api/health"
ROUTING = """
channels:
  - {name: pager, url: "json://127.0.0.1:9/pager"}
  - {name: chat, url: "json://127.0.0.1:9/chat"}
routing:
  P1: {action: page, channels: [pager]}
  P2: {action: notify, channels: [chat]}
grouping: {window: 0s}
"""
CONFIG = (
    ROUTING
    + """services:
  - name: api
    public: true
    checks: [{name: health, kind: http, url: "http://127.0.0.1:9/", interval: 30s}]
slos:
  - service: api
    availability: 99.9%
"""
)


def change(engine: Engine, at: datetime, before: str | None, after: str) -> None:
    with Session(engine) as s, s.begin():
        s.add(StateChangeRow(check_id=CHECK, ts=at, from_status=before, to_status=after, message=""))


def hooks(runtime: Runtime) -> service.Hooks:
    return lambda session, transitions, now: deliver(runtime, session, transitions, now)


def firing(engine: Engine) -> dict[str, str]:
    with Session(engine) as s:
        rows = s.scalars(select(AlertRow).where(AlertRow.source == "slo").order_by(AlertRow.id))
        return {row.dedup_key: row.state for row in rows}


def sent(engine: Engine) -> list[tuple[str, str]]:
    with Session(engine) as s:
        rows = s.scalars(select(OutboxRow).where(OutboxRow.service == "api").order_by(OutboxRow.id))
        return [(row.channel, row.kind) for row in rows]


@pytest.fixture
def runtime(engine: Engine) -> Runtime:
    change(engine, T0 - timedelta(days=10), None, "up")
    return make_runtime(engine, FakeClock(T0 - timedelta(hours=1)), CONFIG)


async def _at(runtime: Runtime, t: datetime) -> datetime | None:
    clock = runtime.clock
    assert isinstance(clock, FakeClock)
    await clock.advance_to(t)
    return service.sync(runtime, hooks(runtime))


async def test_burn_alerts_fire_and_resolve_at_their_instants(runtime: Runtime, engine: Engine) -> None:
    assert await _at(runtime, T0 - timedelta(minutes=1)) is None  # nothing burns, nothing will
    change(engine, T0, "up", "down")
    fast, slow, steady = (T0 + timedelta(seconds=s) for s in (51.84, 129.6, 259.2))
    assert await _at(runtime, T0) == fast
    assert firing(engine) == {}
    assert await _at(runtime, fast - timedelta(microseconds=1)) == fast
    assert firing(engine) == {}
    assert await _at(runtime, fast) == slow
    assert firing(engine) == {"api:fast": "firing"}
    assert sent(engine) == [("pager", "firing")]  # P1 pages
    with Session(engine) as s:
        [incident] = s.scalars(select(IncidentRow))
        assert incident.service == "api" and incident.severity == "P1"
        assert incident.title.startswith("api availability (99.9% up over 30 d): fast burn 14.40× over 1 h")
    with Session(engine) as s:
        [page] = s.scalars(select(OutboxRow).where(OutboxRow.channel == "pager"))
        assert "alerting at 14.4×; 94.0% of the error budget left. SLO: " in page.body
        assert "/ui/slo/api\n" in page.body
    assert await _at(runtime, slow) == steady
    assert firing(engine) == {"api:fast": "firing", "api:slow": "firing"}
    assert sent(engine)[-1] == ("chat", "firing")  # P2 notifies
    await _at(runtime, steady)
    assert set(firing(engine).values()) == {"firing"} and len(firing(engine)) == 3

    back = T0 + timedelta(minutes=10)
    change(engine, back, "down", "up")
    stops = back + timedelta(seconds=295.68, microseconds=1)
    assert await _at(runtime, back) == stops
    assert firing(engine)["api:fast"] == "firing"  # the last 5 minutes still hold 300 s down
    await _at(runtime, stops - timedelta(microseconds=1))
    assert firing(engine)["api:fast"] == "firing"
    following = await _at(runtime, stops)
    assert firing(engine) == {"api:fast": "resolved", "api:slow": "firing", "api:steady": "firing"}
    assert ("pager", "resolved") in sent(engine)
    assert following == back + timedelta(seconds=1800 - 10.8, microseconds=1)  # 6×: 10.8 s of 30 min
    await _at(runtime, following)
    assert firing(engine)["api:slow"] == "resolved"


@pytest.mark.parametrize("scope", ["services: [api]", 'match: {service: "api|web"}', "match: {tier: edge}"])
async def test_maintenance_excluded_burns_nothing(engine: Engine, scope: str) -> None:
    """The window covers api by its list, by a `match:` on the name or on a label (covered_services)."""
    change(engine, T0 - timedelta(days=10), None, "up")
    windowed = (
        CONFIG.replace("    public: true\n", "    public: true\n    labels: {tier: edge}\n", 1)
        + f"""maintenance_windows:
  - {{name: upgrade, cron: "0 12 * * *", duration: 1h, {scope}}}
"""
    )
    runtime = make_runtime(engine, FakeClock(T0), windowed)
    change(engine, T0, "up", "down")  # down inside the window: the watch waits for its end
    ends = T0 + timedelta(hours=1)
    assert await _at(runtime, T0 + timedelta(minutes=30)) == ends + timedelta(microseconds=1)
    assert firing(engine) == {}
    view = service.view(runtime, "api")
    assert view.availability is not None and view.availability.bad_us == 0
    assert view.availability.budget_left == 1
    await _at(runtime, ends)
    assert firing(engine) == {}
    # still down after the window: the fast burn's hour holds only the time since, all of it down
    await _at(runtime, ends + timedelta(microseconds=1))
    assert firing(engine) == {"api:fast": "firing"}  # the 6 h before the window keep the others quiet


async def test_the_pipelines_slo_watch_raises_through_its_hooks(runtime: Runtime, engine: Engine) -> None:
    from opsbook.pipeline import Pipeline

    pipeline = Pipeline(runtime)
    assert pipeline.slos.loop in pipeline.loops  # a duty of the pipeline, woken by check changes
    change(engine, T0, "up", "down")
    clock = runtime.clock
    assert isinstance(clock, FakeClock)
    await clock.advance_to(T0 + timedelta(minutes=1))
    assert await pipeline.slos.step() == T0 + timedelta(seconds=129.6)  # the slow burn's instant next
    assert firing(engine) == {"api:fast": "firing"}
    assert sent(engine) == [("pager", "firing")]
