"""The web UI's database and capacity pages and their API, served for real: the report of a database in
trouble with its stored history, the capacity table with the forecast line; 390 px wide on a phone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from playwright.async_api import async_playwright
from sqlalchemy import Engine

from opsbook.auth import passwords
from opsbook.auth.roles import Role
from opsbook.auth.tokens import create_token
from opsbook.capacity.rollup import tracked_values
from opsbook.capacity.service import roll_up_values
from opsbook.checks.result import CheckResult, StoredResult
from opsbook.checks.store import write_batch
from opsbook.clock import FakeClock
from opsbook.postgres import service
from opsbook.runtime import Runtime
from tests.postgres.conftest import Troubled
from tests.support import make_runtime, serving
from tests.web_ui.browser_support import ARGS, CHROMIUM, PHONE, SHOTS, needs_chromium
from tests.web_ui.browser_support import sign_in as sign_in_browser
from tests.web_ui.test_pages import sign_in
from tests.web_ui.test_phone import WIDEST
from tests.web_ui.ui_support import PASSWORD, ui_app

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


def config(dsn: str) -> str:
    return f"""
title: Acme Ops
timezone: Europe/Berlin
users:
  - {{name: vera, role: viewer}}
services:
  - name: db
    checks:
      - {{name: main, kind: postgres, dsn: "{dsn}", measure: [all], failures: 0}}
      - {{name: disk, kind: host, interval: 1h, failures: 0}}
maintenance_windows:
  - {{name: sunday-db, cron: "0 2 * * 0", duration: 2h, services: [db]}}
postgres:
  maintenance:
    - {{name: weekly-vacuum, check: db/main, sql: "VACUUM ANALYZE bloated", cron: "15 2 * * 0",
       window: sunday-db}}
capacity:
  resources:
    - name: db-disk
      title: "db /data"
      check: db/disk
      value: disk_pct:/data
      unit: "%"
      plan: [{{at: 80, action: "Increase volume or delete old data"}}]
"""


@pytest.fixture
def runtime(troubled_db: Troubled, sqlite_engine: Engine) -> Iterator[Runtime]:
    clock = FakeClock(NOW - timedelta(days=7))
    runtime = make_runtime(sqlite_engine, clock, config(troubled_db.dsn))
    with runtime.sessions.begin() as session:
        passwords.set_password(session, "vera", PASSWORD, clock.now())
        write_batch(session, [
            StoredResult("db/disk", clock.now() + timedelta(hours=h),
                         CheckResult.up(2.0, "", **{"disk_pct:/data": 60 + 2 * h / 24}))
            for h in range(7 * 24)
        ])
    for day in range(8):  # the capacity rollup and a database sample, once a day for a week
        that_day = make_runtime(
            sqlite_engine, FakeClock(NOW - timedelta(days=7 - day)), config(troubled_db.dsn)
        )
        roll_up_values(that_day, tracked_values(that_day.config))
        service.store_sample(that_day, "db/main", service.databases(that_day)["db/main"])
    yield make_runtime(sqlite_engine, FakeClock(NOW), config(troubled_db.dsn))


def test_the_database_page_shows_the_report_and_its_history(runtime: Runtime) -> None:
    client, _ = sign_in(ui_app(runtime), "vera")
    page = client.get("/ui/postgres/db/main?range=7d")
    assert page.status_code == 200, page.text
    html = page.text
    for expected in ("public.bloated", "public.orders_customer_again", "duplicate of public.orders_customer",
                     "Growth 1 d", "+0 kB",
                     "public.orders_note", "never scanned", "index?", "8 samples",
                     "Dead tuples, worst table"):
        assert expected in html, expected
    assert html.count("<svg") >= 5
    listing = client.get("/ui/postgres").text
    assert "/ui/postgres/db/main" in listing and "weekly-vacuum" in listing
    assert "VACUUM ANALYZE bloated" in listing


def test_the_capacity_page_shows_the_table_and_the_forecast(runtime: Runtime) -> None:
    client, _ = sign_in(ui_app(runtime), "vera")
    page = client.get("/ui/capacity")
    assert page.status_code == 200, page.text
    html = page.text
    assert "db /data" in html and "+14.0%" in html and "Increase volume or delete old data" in html
    assert "trend" in html and "+2.00%/day" in html and "80% 2026-03-07" in html
    assert 'href="/ui/postgres/db/main"' in html  # the databases' pages are reached from here


def test_the_api_answers_the_same(runtime: Runtime) -> None:
    client = TestClient(ui_app(runtime))
    with runtime.sessions.begin() as session:
        token = create_token(session, "grafana", Role.VIEWER, NOW)
    auth = {"Authorization": f"Bearer {token}"}
    (row,) = client.get("/api/v1/capacity", headers=auth).json()
    assert row["title"] == "db /data" and row["trend"]["slope_per_day"] == pytest.approx(2, abs=0.01)
    assert row["crossings"][0]["level"] == 80 and row["crossings"][0]["at"].startswith("2026-03-")
    one = client.get("/api/v1/capacity/db-disk", headers=auth).json()
    assert len(one["history"]) >= 24 * 6
    assert client.get("/api/v1/capacity/nope", headers=auth).status_code == 404
    report = client.get("/api/v1/postgres/db/main/report", headers=auth).json()
    assert report["values"]["duplicate_indexes"] == 1
    history = client.get("/api/v1/postgres/db/main/history?since=20160", headers=auth).json()
    assert len(history) == 8
    (task,) = client.get("/api/v1/postgres/maintenance", headers=auth).json()
    assert task["task"] == "weekly-vacuum" and task["last"] is None
    assert client.get("/api/v1/postgres/db/main/report").status_code == 401


@needs_chromium
async def test_the_pages_fit_a_phone(runtime: Runtime) -> None:
    """390 px wide: no page wider than the screen, nothing scrolling sideways (the charts shrink)."""
    async with serving(ui_app(runtime)) as url, async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = await sign_in_browser(browser, url, "vera", PHONE)
            for path, name in (("/ui/postgres/db/main", "database"), ("/ui/capacity", "capacity"),
                               ("/ui/postgres", "databases")):
                response = await page.goto(url + path)
                assert response is not None and response.ok
                measured = await page.evaluate(WIDEST, PHONE["width"])
                assert measured["width"] <= PHONE["width"], f"{path}: {measured['wide']}"
                assert not measured["scrolling"], f"{path} scrolls sideways in {measured['scrolling']}"
                SHOTS.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(SHOTS / f"{name}-phone.png"), full_page=True)
        finally:
            await browser.close()
