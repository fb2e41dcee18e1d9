"""Checks → rules → alerts → notifications, end to end on a fake clock, delivered through Apprise.

A real HTTP service fails; its check's default `failures: 3` rule fires on the third failure; the
message reaches a real webhook receiver; recovery sends a resolve. A silence and a maintenance window
mute the message but not the alert; when they end, an alert that still fires is announced.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from opsbook.alerts.models import AlertRow
from opsbook.auth.roles import Principal, Role
from opsbook.clock import FakeClock
from opsbook.pipeline import Pipeline
from opsbook.silences import service as silences
from opsbook.silences.matchers import parse_matcher
from tests.e2e.conftest import Service, eventually
from tests.notify.conftest import Receiver
from tests.support import make_runtime


def config(api: Service, receiver: Receiver, extra: str = "") -> str:
    return f"""
channels:
  - name: ops
    url: {receiver.url("/hook")}
routing:
  P2: {{action: notify, channels: [ops]}}
grouping: {{window: 0s}}
services:
  - name: api
    checks:
      - name: health
        kind: http
        url: {api.url}
        interval: 30s
        timeout: 2s
{extra}
"""


async def step(pipeline: Pipeline, clock: FakeClock, runs: int) -> None:
    """Advance one interval, wait for the probe's real I/O, write the result (rules run in that write)."""
    await clock.advance(timedelta(seconds=30))
    await eventually(lambda: pipeline.scheduler.stats.finished >= runs, f"run {runs}")
    await pipeline.writer.flush()
    await pipeline.notifier.run_once()


def alerts(engine: Engine) -> list[AlertRow]:
    with Session(engine) as s:
        return list(s.scalars(select(AlertRow).order_by(AlertRow.id)))


async def test_three_failures_notify_once_and_recovery_resolves(
    sqlite_engine: Engine, api: Service, receiver: Receiver
) -> None:
    clock = FakeClock(datetime(2026, 3, 2, 3, 0, tzinfo=UTC))
    pipeline = Pipeline(make_runtime(sqlite_engine, clock, config(api, receiver)))
    await pipeline.start()
    try:
        await eventually(lambda: pipeline.scheduler.stats.finished >= 1, "first run")
        api.status = 500
        runs = 1
        for _ in range(2):
            runs += 1
            await step(pipeline, clock, runs)
        assert receiver.bodies("/hook") == []  # two failures: nothing yet
        assert alerts(sqlite_engine) == []
        runs += 1
        await step(pipeline, clock, runs)
        await eventually(lambda: len(receiver.bodies("/hook")) == 1, "the firing message")
        (fired,) = receiver.bodies("/hook")
        assert "P2" in fired["title"] and "api" in fired["title"]
        assert "Last:     expected status 2xx, got 500" in fired["message"]
        (alert,) = alerts(sqlite_engine)
        assert (alert.state, alert.severity, alert.fired_at) == ("firing", "P2", clock.now())
        assert 'opsbook_alerts{severity="P2",state="firing"} 1.0' in pipeline.metrics.render().decode()
        sent = 'opsbook_notifications{status="sent"} 1.0'  # recorded just after the receiver answered
        await eventually(lambda: sent in pipeline.metrics.render().decode(), "the outbox row marked sent")

        for _ in range(3):  # still failing: no second message
            runs += 1
            await step(pipeline, clock, runs)
        assert len(receiver.bodies("/hook")) == 1

        api.status = 200
        runs += 1
        await step(pipeline, clock, runs)
        await eventually(lambda: len(receiver.bodies("/hook")) == 2, "the resolved message")
        assert (
            "resolved"
            in (receiver.bodies("/hook")[1]["title"] + receiver.bodies("/hook")[1]["message"]).lower()
        )
        assert alerts(sqlite_engine)[0].state == "resolved"
    finally:
        await pipeline.stop()


async def test_a_maintenance_window_mutes_until_it_ends(
    sqlite_engine: Engine, api: Service, receiver: Receiver
) -> None:
    """Scenario 3: Sundays 02:00–04:00 UTC; failures are recorded but page nobody; at 04:00 they do."""
    window = """
maintenance_windows:
  - name: sunday-db
    title: Weekly database maintenance
    cron: "0 2 * * 0"
    duration: 2h
    timezone: UTC
    services: [api]
"""
    clock = FakeClock(datetime(2026, 3, 1, 3, 57, 50, tzinfo=UTC))  # Sunday, near the window's end
    pipeline = Pipeline(make_runtime(sqlite_engine, clock, config(api, receiver, window)))
    api.status = 500
    await pipeline.start()
    try:
        await eventually(lambda: pipeline.scheduler.stats.finished >= 1, "first run")
        runs = 1
        for _ in range(4):
            runs += 1
            await step(pipeline, clock, runs)
        (alert,) = alerts(sqlite_engine)
        assert alert.state == "firing" and alert.silenced
        assert "sunday-db" in (alert.silenced_by or "")
        assert receiver.bodies("/hook") == []

        await pipeline.notifier.run_once()
        assert clock.now() == datetime(2026, 3, 1, 3, 59, 50, tzinfo=UTC)
        assert receiver.bodies("/hook") == []
        await clock.advance_to(datetime(2026, 3, 1, 4, 0, 1, tzinfo=UTC))  # the window ends at 04:00
        await eventually(lambda: len(receiver.bodies("/hook")) == 1, "the firing message at 04:00")
        assert alerts(sqlite_engine)[0].silenced is False
    finally:
        await pipeline.stop()


async def test_a_silence_mutes_and_its_expiry_announces(
    sqlite_engine: Engine, api: Service, receiver: Receiver
) -> None:
    clock = FakeClock(datetime(2026, 3, 2, 3, 0, tzinfo=UTC))
    runtime = make_runtime(sqlite_engine, clock, config(api, receiver))
    ana = Principal("ana", Role.RESPONDER)
    silence_id = silences.add_silence(
        runtime, ana, [parse_matcher("service=api")], comment="deploying", duration=timedelta(minutes=10)
    ).id
    pipeline = Pipeline(runtime)
    api.status = 500
    await pipeline.start()
    try:
        await eventually(lambda: pipeline.scheduler.stats.finished >= 1, "first run")
        runs = 1
        for _ in range(3):
            runs += 1
            await step(pipeline, clock, runs)
        (alert,) = alerts(sqlite_engine)
        assert (
            alert.state == "firing"
            and alert.silenced
            and f"silence:{silence_id}" in (alert.silenced_by or "")
        )
        assert receiver.bodies("/hook") == []
        silences.expire_silence(runtime, ana, silence_id)  # its event wakes the unmute loop
        await eventually(lambda: len(receiver.bodies("/hook")) == 1, "the firing message after the silence")
    finally:
        await pipeline.stop()
