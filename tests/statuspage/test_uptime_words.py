"""The status page's figures and words: uptime counted from the first result with as many decimals as
tell the truth (never 100% with downtime), and one name per state — a service's label, the banner and
the generic title of an incident agree."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine

from opsbook.auth.roles import SYSTEM
from opsbook.checks.result import Status
from opsbook.clock import FakeClock
from opsbook.incidents import lifecycle
from opsbook.statuspage.figures import uptime_text
from tests.support import serving
from tests.web_ui.ui_support import runtime_for, ui_app, write

DAY = 86400.0


def test_uptime_figures_have_sensible_precision() -> None:
    assert uptime_text(DAY, DAY) == "100%"
    assert uptime_text(DAY - 1, DAY) == "99.998%"  # one second down in a day: not 100%
    assert uptime_text(DAY * 0.999, DAY) == "99.9%"
    assert uptime_text(DAY * 0.9998, DAY) == "99.98%"
    assert uptime_text(DAY * 0.995, DAY) == "99.5%"
    assert uptime_text(6 * 60, 16 * 60) == "37.5%"
    assert uptime_text(110 * 60, 120 * 60) == "91.6%"  # cut, not rounded up
    assert uptime_text(0, DAY) == "0%"
    assert uptime_text(0, 0) == "no data"


@given(st.floats(0, 400 * DAY), st.floats(0.001, 1.0))
def test_uptime_text_never_claims_more_than_was_up(known: float, share: float) -> None:
    up = known * share
    text = uptime_text(up, known)
    if known <= 0:
        assert text == "no data"
        return
    match = re.fullmatch(r"(\d+)(?:\.(\d{1,3}))?%", text)
    assert match is not None, text
    shown = float(text[:-1])
    if up < known:
        assert text != "100%"
        assert shown <= 100 * up / known + 1e-9
    assert not (match.group(2) or "").endswith("0")


async def test_first_day_uptime_counts_from_the_first_result(sqlite_engine: Engine, clock: FakeClock) -> None:
    runtime = runtime_for(sqlite_engine, clock)
    now = clock.now()  # 2026-01-05 09:00 UTC
    first = now - timedelta(hours=2)
    write(runtime, [
        ("api/health", first, Status.UP, "ok"),  # api first watched today at 07:00 ...
        ("api/login", first, Status.UP, "ok"),
        ("api/health", first + timedelta(minutes=30), Status.DOWN, "refused"),  # ... ten minutes down
        ("api/health", first + timedelta(minutes=40), Status.UP, "ok"),
        ("web/home", now - timedelta(days=10), Status.UP, "ok"),  # web watched for ten days ...
        ("web/home", now - timedelta(days=3), Status.DOWN, "refused"),  # ... one second down
        ("web/home", now - timedelta(days=3) + timedelta(seconds=1), Status.UP, "ok"),
    ])
    async with serving(ui_app(runtime)) as base, httpx.AsyncClient(base_url=base) as http:
        body = (await http.get("/status.json")).json()
        html = (await http.get("/status")).text
    api, web = body["services"]
    assert api["uptime_text"] == "95.8%"  # 230 of 240 check-minutes up, since 07:00, not 38% or 99.99%
    assert api["watched_since"] == "2026-01-05"
    assert [b["uptime_text"] for b in api["bars"][:-1]] == ["no data"] * 89
    assert {b["level"] for b in api["bars"][:-1]} == {"no_data"}
    assert api["bars"][-1]["uptime_text"] == "95.8%"
    assert web["uptime_text"] == "99.999%"  # one second in ten days: still not 100%
    assert web["watched_since"] == "2025-12-26"  # younger than the page's 90 days: said so
    assert "95.8% uptime since 5 Jan" in html
    assert "99.999% uptime since 26 Dec" in html
    assert "38.177" not in html and "95.833" not in html


async def test_banner_service_and_incident_use_one_name_per_state(
    sqlite_engine: Engine, clock: FakeClock
) -> None:
    runtime = runtime_for(sqlite_engine, clock)
    now = clock.now()
    write(runtime, [("api/health", now - timedelta(minutes=5), Status.DOWN, "refused"),
                    ("api/login", now - timedelta(minutes=5), Status.DOWN, "refused"),
                    ("web/home", now - timedelta(minutes=5), Status.UP, "ok")])
    with runtime.sessions.begin() as session:  # a P2 incident opened by an alert: unpublished
        lifecycle.open_incident(session, runtime.config, now, title="api/health failed 3 times in a row",
                                severity="P2", service="api", actor=SYSTEM, source="rule")
        lifecycle.open_incident(session, runtime.config, now, title="home page slow", severity="P1",
                                service="web", actor=SYSTEM, source="rule")
    async with serving(ui_app(runtime)) as base, httpx.AsyncClient(base_url=base) as http:
        body = (await http.get("/status.json")).json()
        html = (await http.get("/status")).text
    states = {s["name"]: (s["state"], s["state_label"]) for s in body["services"]}
    assert states == {"api": ("major_outage", "Major outage"), "web": ("partial_outage", "Partial outage")}
    assert body["sentence"] == "Major outage: api"
    titles = {i["title"]: i["state_label"] for i in body["active_incidents"]}
    assert titles == {"Major outage: api": "Major outage", "Partial outage: web": "Partial outage"}
    assert "Degraded service" not in html and "failed 3 times" not in html
    assert '<h3 class="fg-major_outage">Major outage: api</h3>' in html
    assert '<h3 class="fg-partial_outage">Partial outage: web</h3>' in html
