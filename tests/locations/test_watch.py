"""The location watch on PostgreSQL (fake clock for result ages; members beat on the database's clock):
a location with no live worker, or with workers but no fresh result, raises `location-silent:NAME` once
its grace is over, and it resolves when the location reports again. Plus the lease pools, and `serve
--location` refused on SQLite."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from opsbook.alerts.models import AlertRow
from opsbook.alerts.types import AlertTransition, TransitionKind
from opsbook.checks.result import CheckResult, StoredResult
from opsbook.cli.main import app
from opsbook.clock import FakeClock
from opsbook.cluster import members
from opsbook.cluster.identity import ProcessIdentity
from opsbook.cluster.partitions import lease_pools
from opsbook.config.loader import parse_config
from opsbook.db.engine import make_engine
from opsbook.locations.combine import LocatedStore
from opsbook.locations.watch import LocationWatch
from tests.support import make_runtime

CONFIG = """
cluster: {lease: 5s}
services:
  - name: web
    checks:
      - {name: home, kind: tcp, host: 127.0.0.1, port: 1}
      - {name: api, kind: tcp, host: 127.0.0.1, port: 1, interval: 10s, timeout: 5s, locations: [eu, ap]}
      - {name: cdn, kind: tcp, host: 127.0.0.1, port: 1, interval: 10s, timeout: 5s, locations: [eu]}
"""  # fresh for 2 × 10 s + 5 s = 25 s


def test_lease_pools_number_each_location_apart() -> None:
    checks = parse_config(CONFIG, "opsbook.yaml").config.checks()
    pools = {p.location: p for p in lease_pools(checks, 64)}
    assert pools[None].units == {"web/home": 0}  # checks without locations: from 0
    assert pools["ap"].first == 64 and pools["ap"].units == {"web/api@ap": 64}  # sorted: ap, then eu
    assert pools["eu"].first == 128 and pools["eu"].units == {"web/api@eu": 128, "web/cdn@eu": 129}


def test_serve_with_a_location_needs_postgresql(tmp_path: Path) -> None:
    config = tmp_path / "opsbook.yaml"
    config.write_text(CONFIG)
    result = CliRunner().invoke(app, ["serve", "--location", "eu", "-c", str(config)],
                                env={"OPSBOOK_DATABASE_URL": f"sqlite:///{tmp_path}/o.db", "COLUMNS": "100"})
    assert result.exit_code == 2  # refused, as bad input
    assert "--location needs PostgreSQL" in result.output


def test_a_silent_location_alerts_and_clears(pg_url: str, pg_template: str) -> None:
    from tests.conftest import fresh_pg_database

    engine: Engine = make_engine(fresh_pg_database(pg_url, pg_template))
    clock = FakeClock(datetime.now(UTC))  # members' heartbeats are stamped by the database's clock
    runtime = make_runtime(engine, clock, CONFIG)
    seen: list[AlertTransition] = []

    def hooks(_session: Session, moved: Sequence[AlertTransition], _now: datetime) -> None:
        seen.extend(moved)

    watch = LocationWatch(runtime, hooks)
    assert watch.grace == timedelta(seconds=25) and watch.every == timedelta(seconds=10)
    store = LocatedStore(runtime.config.checks())

    def report(unit: str) -> None:
        with runtime.sessions.begin() as session:
            store.write(session, [StoredResult(unit, clock.now(), CheckResult.up(5.0))])

    try:
        eu = ProcessIdentity.for_worker("eu-1", "eu")
        members.join(runtime.sessions, eu)
        report("web/api@eu")
        report("web/cdn@eu")
        watch.sync()
        assert seen == []  # within the grace: ap (no worker at all) is not called silent yet
        clock._now += timedelta(seconds=26)
        members.beat(runtime.sessions, eu, frozenset(), None)
        report("web/cdn@eu")  # eu keeps one probe fresh: it reports
        watch.sync()
        (fired,) = seen
        assert fired.kind is TransitionKind.FIRED and fired.dedup_key == "location-silent:ap"
        assert fired.summary.startswith("location ap stopped reporting: no worker of ap is alive (no result")
        watch.sync()
        assert len(seen) == 1  # raised once

        ap = ProcessIdentity.for_worker("ap-1", "ap")
        members.join(runtime.sessions, ap)  # a worker of ap, but no result yet: still silent
        watch.sync()
        assert len(seen) == 1
        report("web/api@ap")
        watch.sync()
        assert [t.kind for t in seen] == [TransitionKind.FIRED, TransitionKind.RESOLVED]

        clock._now += timedelta(seconds=26)  # eu's workers beat on, but none of its probes is fresh
        members.beat(runtime.sessions, eu, frozenset(), None)
        members.beat(runtime.sessions, ap, frozenset(), None)
        report("web/api@ap")
        watch.sync()
        assert seen[-1].dedup_key == "location-silent:eu" and seen[-1].kind is TransitionKind.FIRED
        assert "1 worker alive but no fresh result" in seen[-1].summary
        with runtime.sessions() as session:
            states = dict(session.execute(select(AlertRow.dedup_key, AlertRow.state)).all())
        assert states == {"location-silent:ap": "resolved", "location-silent:eu": "firing"}
    finally:
        engine.dispose()


def test_validate_says_what_happens_to_located_checks(tmp_path: Path) -> None:
    config = tmp_path / "opsbook.yaml"
    config.write_text(CONFIG)
    result = CliRunner().invoke(app, ["validate", "-c", str(config)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "2 checks list locations (ap, eu): on PostgreSQL each runs once per location" in result.output
    assert "on SQLite each runs once, from `opsbook serve`, without a quorum" in result.output
