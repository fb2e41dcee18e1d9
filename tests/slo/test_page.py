"""The SLO pages in the browser (Chromium, 390 px wide): the list and a service's page with its budget
chart fit a phone without sideways scrolling, and the SLA report downloads from the list."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Page
from sqlalchemy import Engine

from opsbook.clock import FakeClock
from opsbook.slo import service
from tests.slo.test_surfaces import history
from tests.support import serving
from tests.web_ui.browser_support import PHONE, needs_chromium, sign_in
from tests.web_ui.conftest import browser  # noqa: F401  (Chromium, one per module)
from tests.web_ui.test_phone import WIDEST
from tests.web_ui.ui_support import CONFIG, runtime_for, ui_app

pytestmark = [needs_chromium, pytest.mark.asyncio(loop_scope="module")]

SLOS = """\
slos:
  - {service: api, availability: 99.9%, checks: [health]}
  - {service: web, availability: 99.99%, window: 7d}
"""


async def _fits(page: Page) -> None:
    measured = await page.evaluate(WIDEST, PHONE["width"])
    assert measured["width"] <= PHONE["width"], measured["wide"]
    assert not measured["scrolling"], measured["scrolling"]


async def test_slo_pages_on_a_phone(browser: Browser, sqlite_engine: Engine) -> None:  # noqa: F811
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    history(sqlite_engine, now)
    runtime = runtime_for(sqlite_engine, FakeClock(now), CONFIG + SLOS)
    async with serving(ui_app(runtime)) as url:
        page = await sign_in(browser, url, "vera", PHONE)
        await page.goto(url + "/ui/slo")
        rows = page.locator("#slos tr[data-service]")
        assert await rows.count() == 2
        assert "50.0%" in await rows.nth(0).inner_text()  # api: half its budget left
        await _fits(page)
        async with page.expect_download() as download:
            await page.locator("#sla button").click()
        saved = await (await download.value).path()
        assert saved is not None and "| api | 99.9% |" in saved.read_text()
        link = service.slo_link(runtime.config, "api")  # what a burn alert's message links to
        await page.goto(url + urlsplit(link).path)
        assert await page.locator("h1").inner_text() == "SLO: api"
        assert await page.locator("#budget svg polyline").count() == 1
        assert "fast · 14.4× · P1" in await page.locator("#burns-availability").inner_text()
        await _fits(page)
        missing = await page.goto(url + "/ui/slo/nope")
        assert missing is not None and missing.status == 404
