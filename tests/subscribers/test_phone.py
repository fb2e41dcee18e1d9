"""The subscribe form and the subscribers page on a phone, in Chromium: at 360 and 414 px wide the status
page shows its subscribe link, the form is filled in and sent by touch-sized controls, and neither the
form, its answer nor /ui/subscribers is wider than the screen."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, ViewportSize
from sqlalchemy import Engine

from opsbook.auth import passwords
from opsbook.clock import FakeClock
from opsbook.db.engine import make_engine
from opsbook.db.migrate import upgrade
from opsbook.runtime import Runtime
from tests.notify.conftest import MailBox
from tests.subscribers.support import START, runtime_of, served, subscribers, to
from tests.web_ui.browser_support import needs_chromium, sign_in
from tests.web_ui.test_phone import WIDEST
from tests.web_ui.ui_support import PASSWORD

pytestmark = [needs_chromium, pytest.mark.asyncio(loop_scope="module")]

USERS = "users:\n  - {name: ana, role: admin}\n"


async def _fits(page: Page, width: int, what: str) -> None:
    measured = await page.evaluate(WIDEST, width)
    assert measured["width"] <= width, f"{what} is {measured['width']} px wide: {measured['wide']}"
    assert not measured["scrolling"], f"{what} scrolls sideways in {measured['scrolling']}"


@pytest_asyncio.fixture(loop_scope="module")
async def engine(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Engine]:
    folder = tmp_path_factory.mktemp("subscribe-phone")
    made = make_engine(f"sqlite:///{folder}/opsbook.db")
    upgrade(made)
    yield made
    made.dispose()


@pytest.mark.parametrize("width", [360, 414])
async def test_subscribing_on_a_phone(browser: Browser, engine: Engine, smtp: MailBox, width: int) -> None:
    runtime: Runtime = runtime_of(engine, FakeClock(START), smtp.port, USERS)
    with runtime.sessions.begin() as s:
        passwords.set_password(s, "ana", PASSWORD, START)
    address = f"phone{width}@example.com"
    async with served(runtime) as site:
        url = str(site.http.base_url).rstrip("/")
        context = await browser.new_context(viewport=ViewportSize(width=width, height=800), has_touch=True)
        page = await context.new_page()
        await page.goto(f"{url}/status")
        await _fits(page, width, "the status page")
        await page.click("#subscribe")
        await page.wait_for_url(f"{url}/status/subscribe")
        await _fits(page, width, "the subscribe form")
        box = await page.locator("button[type=submit]").bounding_box()
        assert box is not None and box["height"] >= 40  # a thumb can hit it
        await page.fill("#address", address)
        await page.check("input[name=service][value=api]")
        await page.click("button[type=submit]")
        await page.wait_for_selector("text=Check your inbox")
        await _fits(page, width, "the answer")
        await site.settle(lambda: len(to(smtp.messages, address)) == 1)
        [row] = [r for r in subscribers(engine) if r.services == ["api"] and r.status == "pending"]
        await context.close()

        admin = await sign_in(browser, url, "ana", ViewportSize(width=width, height=800))
        await admin.goto(f"{url}/ui/subscribers")
        assert await admin.locator(f"tr[data-subscriber='{row.id}'] .address").inner_text() == "p***@e***.com"
        await _fits(admin, width, "/ui/subscribers")
        await admin.context.close()
