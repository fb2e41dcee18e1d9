"""Browser tests: Debian's Chromium driven by Playwright against a real opsbook server on 127.0.0.1.

Sign in; see the failing check on the dashboard; acknowledge its incident and see the timeline update;
a viewer is refused; the public status page shows the incident and the uptime bars without signing in.
The screenshots in docs/screenshots/ are taken here.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from opsbook.checks.result import Status
from opsbook.clock import FakeClock
from opsbook.incidents import service as incidents
from opsbook.runtime import Runtime
from tests.support import serving
from tests.web_ui.ui_support import PASSWORD, PRIVATE_WORDS, runtime_for, ui_app, write

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")


def seed(runtime: Runtime, clock: FakeClock) -> dict[str, int]:
    """A week of history: api/health failed for 40 minutes three days ago and is failing now."""
    now = clock.now()
    rows = []
    for check in ("api/health", "api/login", "web/home", "secret-billing-db/replication-lag-zebra"):
        rows.append((check, now - timedelta(days=7), Status.UP, "ok"))
    rows += [
        ("api/health", now - timedelta(days=3), Status.DOWN, "connection refused"),
        ("api/health", now - timedelta(days=3) + timedelta(minutes=40), Status.UP, "ok"),
        ("web/home", now - timedelta(days=1), Status.DEGRADED, "slow: 1.9 s"),
        ("web/home", now - timedelta(days=1) + timedelta(hours=1), Status.UP, "ok"),
        (
            "api/health",
            now - timedelta(minutes=4),
            Status.DOWN,
            "connect to 10.0.0.7:443: connection refused",
        ),
        (
            "secret-billing-db/replication-lag-zebra",
            now - timedelta(minutes=3),
            Status.DOWN,
            "ZEBRA-LEAK lag",
        ),
    ]
    write(runtime, rows)
    with runtime.sessions.begin() as session:
        api = incidents.open_incident(
            session,
            runtime.config,
            now - timedelta(minutes=3),
            title="API health check failing",
            severity="P1",
            service="api",
            customer_facing=True,
            summary="api/health: connection refused",
        )
        other = incidents.open_incident(
            session,
            runtime.config,
            now - timedelta(minutes=2),
            title="Login errors",
            severity="P2",
            service="api",
        )
        incidents.open_incident(
            session,
            runtime.config,
            now - timedelta(minutes=2),
            title="ZEBRA-LEAK ledger lag",
            severity="P2",
            service="secret-billing-db",
        )
        return {"api": api.id, "other": other.id}


@pytest.fixture
async def site(sqlite_engine: Engine, clock: FakeClock) -> AsyncIterator[tuple[str, Runtime, dict[str, int]]]:
    runtime = runtime_for(sqlite_engine, clock)
    ids = seed(runtime, clock)
    async with serving(ui_app(runtime)) as url:
        yield url, runtime, ids


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield b
        finally:
            await b.close()


async def sign_in(browser: object, url: str, user: str) -> object:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    page = await context.new_page()
    await page.goto(f"{url}/ui/")
    assert "/login" in page.url  # not signed in: sent to the login page
    await page.fill("#username", user)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{url}/ui/")
    return page


async def test_sign_in_dashboard_acknowledge_and_status_page(
    site: tuple[str, Runtime, dict[str, int]], browser: object
) -> None:
    url, runtime, ids = site
    SHOTS.mkdir(parents=True, exist_ok=True)

    # a wrong password is refused
    context = await browser.new_context()  # type: ignore[attr-defined]
    page = await context.new_page()
    await page.goto(f"{url}/login")
    await page.fill("#username", "rick")
    await page.fill("#password", "not the password")
    await page.click("button[type=submit]")
    assert "Wrong user name or password" in await page.inner_text("#login-error")
    await context.close()

    page = await sign_in(browser, url, "rick")
    row = page.locator('tr[data-check="api/health"]')
    assert await row.get_attribute("data-status") == "down"
    assert "connection refused" in await row.inner_text()
    assert "API health check failing" in await page.inner_text("#open-incidents")
    assert "rick" in await page.inner_text("#whoami")
    await page.screenshot(path=str(SHOTS / "dashboard.png"), full_page=True)

    # from the dashboard to the incident, acknowledge it, and the timeline shows it
    await page.click(f'#open-incidents a[href="/ui/incidents/{ids["api"]}"]')
    await page.wait_for_url(f"{url}/ui/incidents/{ids['api']}")
    assert "Acknowledged by" not in await page.inner_text("#timeline")
    await page.click("#ack")
    await page.wait_for_selector("#flash")
    assert "Acknowledged by rick" in await page.inner_text("#timeline")
    assert await page.inner_text("#status") == "acknowledged"
    await page.select_option('form[action$="/status"] select', "identified")
    await page.fill(
        'form[action$="/status"] input[name=message]', "The database pool is exhausted; raising it."
    )
    await page.click('form[action$="/status"] button')
    await page.wait_for_selector("#flash")
    assert "Identified: The database pool is exhausted" in await page.inner_text("#timeline")
    await page.screenshot(path=str(SHOTS / "incident.png"), full_page=True)
    with runtime.sessions() as session:
        row_ = incidents.get_incident(session, ids["api"])
        assert row_.acknowledged_by == "rick"

    # the public status page, without signing in
    anonymous = await browser.new_context(viewport={"width": 1100, "height": 900})  # type: ignore[attr-defined]
    public = await anonymous.new_page()
    await public.goto(f"{url}/status")
    assert "API health check failing" in await public.inner_text("#active-incidents")
    assert "The database pool is exhausted" in await public.inner_text("#active-incidents")
    api = public.locator('.service[data-service="api"]')
    assert await api.get_attribute("data-state") == "partial_outage"
    assert await api.locator(".bars span").count() == 90
    assert await api.locator(".bars span.st-operational").count() >= 5
    assert await api.locator(".bars span.st-no_data").count() >= 80  # no history before a week ago
    assert "uptime" in await api.locator(".uptime").inner_text()
    html = await public.content()
    for word in PRIVATE_WORDS:
        assert word not in html
    await public.screenshot(path=str(SHOTS / "status.png"), full_page=True)


async def test_viewer_is_refused_the_acknowledge_action(
    site: tuple[str, Runtime, dict[str, int]], browser: object
) -> None:
    url, runtime, ids = site
    page = await sign_in(browser, url, "vera")
    await page.goto(f"{url}/ui/incidents/{ids['other']}")
    assert "viewer role" in await page.inner_text("#read-only")
    assert await page.locator("#ack").count() == 0
    # posting the form anyway (with a valid CSRF token) is refused by the server
    status = await page.evaluate(
        """async (path) => {
            const token = document.querySelector('input[name=csrf_token]').value;
            const r = await fetch(path, {method: 'POST', headers: {'X-CSRF-Token': token}});
            return r.status;
        }""",
        f"/ui/incidents/{ids['other']}/ack",
    )
    assert status == 403
    with runtime.sessions() as session:
        assert incidents.get_incident(session, ids["other"]).acknowledged_at is None
