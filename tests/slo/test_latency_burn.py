"""Burn-rate alerts on the latency objective through the alert pipeline on the fake clock, on SQLite and
PostgreSQL. api's check answers every 10 s (six results a minute) in 10 ms for seven hours; from T0 every
answer takes 900 ms, for 30 minutes. At "99 % under 500 ms" a window burns at factor f once its slow
share reaches f × 1 %; the windows count whole minutes, so each alert changes at a minute boundary:

- steady (1× over 3 d and 6 h): 6k slow of 2520 + 6k results ≥ 1 % at k = 5 minutes in;
- fast (14.4× over 1 h and 5 min): 6k of 360 ≥ 14.4 % at k = 9 (51.84 slow needed); it pages;
- slow (6× over 6 h and 30 min): 6k of 2160 ≥ 6 % at k = 22 (129.6 needed); with the hours rolled up
  the 6 h window reaches back to its whole first hour (2160 + 6k results) and fires at k = 23;
- after the recovery at T0 + 30 min the fast burn resolves when its last 5 minutes hold fewer than 4.32
  slow results: at T0 + 35 min.

The page says which objective burns, the budget left and the SLO page's address, which opens."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from opsbook.checks.histogram import BOUNDS_MS
from opsbook.checks.result import CheckResult, StoredResult
from opsbook.checks.rollup import roll_up
from opsbook.checks.store import write_batch
from opsbook.clock import FakeClock
from opsbook.config.loader import parse_config
from opsbook.config.yamlpos import ConfigError
from opsbook.notify.models import OutboxRow
from opsbook.runtime import Runtime
from opsbook.slo import service
from opsbook.slo.api import slo_out
from opsbook.slo.latency import within
from tests.slo.test_burn_alerts import ROUTING, _at, firing
from tests.slo.test_surfaces import OPSBOOK
from tests.support import make_runtime

T0 = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
M = timedelta(minutes=1)
CONFIG = (
    ROUTING
    + """base_url: https://ops.example.org
services:
  - name: api
    checks: [{name: health, kind: http, url: "http://127.0.0.1:9/", interval: 10s}]
slos:
  - service: api
    latency: {below: 500ms, target: 99%}
"""
)


def results(engine: Engine) -> None:
    """Fast for 7 hours before T0, slow for 30 minutes, fast again for an hour."""
    batch = []
    for n in range(-7 * 360, 90 * 6):
        at = T0 + timedelta(seconds=10 * n)
        slow = 0 <= n < 30 * 6
        batch.append(StoredResult("api/health", at, CheckResult.up(900.0 if slow else 10.0)))
    with Session(engine) as s, s.begin():
        write_batch(s, batch)


@pytest.fixture
def runtime(engine: Engine) -> Runtime:
    results(engine)
    return make_runtime(engine, FakeClock(T0 - timedelta(hours=1)), CONFIG)


@pytest.mark.parametrize("rolled_up", [False, True])
async def test_latency_burn_alerts_change_on_the_minute(
    runtime: Runtime, engine: Engine, rolled_up: bool
) -> None:
    if rolled_up:
        with Session(engine) as s, s.begin():
            roll_up(s, T0)  # hours before T0 from the hour rollups, minutes since from the raw results
    assert await _at(runtime, T0) == T0 + M  # the latency burns may change as each minute closes
    assert firing(engine) == {}
    await _at(runtime, T0 + 5 * M - timedelta(microseconds=1))
    assert firing(engine) == {}
    assert await _at(runtime, T0 + 5 * M) == T0 + 6 * M
    assert firing(engine) == {"api:latency:steady": "firing"}
    await _at(runtime, T0 + 9 * M - timedelta(microseconds=1))
    assert "api:latency:fast" not in firing(engine)
    await _at(runtime, T0 + 9 * M)
    assert firing(engine)["api:latency:fast"] == "firing"
    slow = T0 + (23 if rolled_up else 22) * M
    await _at(runtime, slow - M)
    assert "api:latency:slow" not in firing(engine)
    await _at(runtime, slow)
    assert firing(engine)["api:latency:slow"] == "firing"

    await _at(runtime, T0 + 35 * M - timedelta(microseconds=1))
    assert firing(engine)["api:latency:fast"] == "firing"
    await _at(runtime, T0 + 35 * M)
    assert firing(engine) == {
        "api:latency:steady": "firing",
        "api:latency:fast": "resolved",
        "api:latency:slow": "firing",
    }

    with Session(engine) as s:
        page = s.scalars(select(OutboxRow).where(OutboxRow.channel == "pager").order_by(OutboxRow.id)).first()
        assert page is not None and page.kind == "firing"
        assert page.body.startswith(
            "api latency (99% under 500 ms over 30 d): fast burn 15.00× over 1 h and 100.00× over 5 min, "
            "alerting at 14.4×; error budget overspent by "
        )
        assert "SLO: https://ops.example.org/ui/slo/api\n" in page.body


async def test_the_view_shows_the_latency_burns(runtime: Runtime, engine: Engine) -> None:
    clock = runtime.clock
    assert isinstance(clock, FakeClock)
    await clock.advance_to(T0 + 10 * M + timedelta(seconds=30))  # the minute under way does not count yet
    view = service.view(runtime, "api")
    assert view.availability is None and view.latency is not None
    fast, slow, steady = view.latency_burns
    assert (fast.config.name, fast.firing, slow.firing, steady.firing) == ("fast", True, False, True)
    assert fast.long_rate == Fraction(60, 360) * 100  # 60 slow of 360 results over 1 h, against 1 % allowed
    assert fast.short_rate == 100  # all 30 slow over 5 min
    assert view.latency_burn_rate == fast.long_rate
    assert view.firing == ["latency fast burn", "latency steady burn"]
    out = slo_out(view)  # the API's answer
    assert [(o.kind, o.burn_rate) for o in out.objectives] == [("latency", float(Fraction(50, 3)))]
    assert [(b.objective, b.name, b.firing) for b in out.burn_alerts] == [
        ("latency", "fast", True),
        ("latency", "slow", False),
        ("latency", "steady", True),
    ]


@given(
    st.lists(st.integers(0, 50), min_size=len(BOUNDS_MS) + 1, max_size=len(BOUNDS_MS) + 1),
    st.integers(0, len(BOUNDS_MS) - 1),
    st.fractions(0, 1),
)
def test_results_within_a_threshold(histogram: list[int], bound: int, part: Fraction) -> None:
    """On a bound: the buckets up to it exactly; inside a bucket: its share pro rata; past the last bound:
    never the open-ended bucket."""
    assert within(histogram, BOUNDS_MS[bound]) == sum(histogram[: bound + 1])
    low = BOUNDS_MS[bound - 1] if bound else 0.0
    inside = float(Fraction(repr(low)) + part * (Fraction(repr(BOUNDS_MS[bound])) - Fraction(repr(low))))
    share = (Fraction(repr(inside)) - Fraction(repr(low))) / (
        Fraction(repr(BOUNDS_MS[bound])) - Fraction(repr(low))
    )
    assert within(histogram, inside) == sum(histogram[:bound]) + histogram[bound] * share
    assert within(histogram, BOUNDS_MS[-1] * 10) == sum(histogram[:-1])


async def test_slow_answers_in_maintenance_burn_nothing(engine: Engine) -> None:
    """The 30 slow minutes fall in a maintenance window of api: left out (maintenance: exclude), nothing
    fires, and after it the last hour holds only the fast answers around it."""
    results(engine)
    windowed = (
        CONFIG
        + 'maintenance_windows:\n  - {name: upgrade, cron: "0 12 * * *", duration: 30m, services: [api]}\n'
    )
    runtime = make_runtime(engine, FakeClock(T0 - timedelta(hours=1)), windowed)
    for minute in (10, 31, 35, 40):
        await _at(runtime, T0 + minute * M)
        assert firing(engine) == {}
    fast = service.view(runtime, "api").latency_burns[0]
    assert fast.long_rate == 0 and fast.short_rate == 0 and not fast.firing


def test_a_loose_latency_target_needs_burn_alerts_it_can_reach() -> None:
    """At 90 % a burn rate of 14.4 can never be reached: the default alerts are refused for the latency
    objective at its line, saying how to give it its own; its own alerts (or none) are taken."""
    loose = CONFIG.replace("target: 99%}", "target: 90%}")
    with pytest.raises(ConfigError) as refused:
        parse_config(loose, "opsbook.yaml", {})
    assert "slos[0]" in str(refused.value) and "burn alert 'fast': a burn rate of 14.4" in str(refused.value)
    assert "give the latency objective its own burn_alerts" in str(refused.value)
    own = loose.replace(
        "target: 90%}",
        "target: 90%, burn_alerts: [{name: fast, factor: 5, long: 1h, short: 5m, severity: P1}]}",
    )
    slo = parse_config(own, "opsbook.yaml", {}).config.slos[0]
    assert [a.factor for a in slo.latency_alerts] == [5] and len(slo.burn_alerts) == 3  # the SLO's stay
    assert parse_config(loose.replace("target: 90%}", "target: 90%, burn_alerts: []}"), "opsbook.yaml", {})


def test_opsbook_slo_shows_the_latency_burn_at_80_columns(sqlite_engine: Engine, tmp_path: Path) -> None:
    """The commands read the real clock: two hours of answers up to now, the last 15 minutes slow."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    batch = [
        StoredResult("api/health", at, CheckResult.up(900.0 if at >= now - 15 * M else 10.0))
        for at in (now - timedelta(seconds=10 * n) for n in range(1, 2 * 360))
    ]
    with Session(sqlite_engine) as s, s.begin():
        write_batch(s, batch)
    (tmp_path / "opsbook.yaml").write_text(CONFIG)
    env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1", "OPSBOOK_DATABASE_URL": str(sqlite_engine.url)}
    config = str(tmp_path / "opsbook.yaml")
    listed = subprocess.run(
        [OPSBOOK, "slo", "-c", config], env=env, capture_output=True, text=True, check=True
    )
    assert max(len(line) for line in listed.stdout.splitlines()) <= 80
    assert "99% under 500ms" in listed.stdout and "fast, slow, steady burn" in listed.stdout
    shown = subprocess.run(
        [OPSBOOK, "slo", "show", "api", "-c", config], env=env, capture_output=True, text=True, check=True
    )
    assert max(len(line) for line in shown.stdout.splitlines()) <= 80
    assert "Burn-rate alerts on latency" in shown.stdout and "availability" not in shown.stdout
    assert "fast 14.4× P1" in shown.stdout and "firing" in shown.stdout
