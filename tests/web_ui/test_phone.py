"""Every page on a phone: at 390 px wide no page is wider than the screen (compared with 390, not with
`window.innerWidth`, which a mobile browser widens to fit overflowing content) and nothing on it scrolls
sideways, the navigation folds into a menu, and the status page's uptime bars end with today's inside
the screen.

The phone screenshots in docs/screenshots/ (`*-phone.png`) are taken here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page

from opsbook.clock import FakeClock
from opsbook.db.engine import make_engine
from opsbook.db.migrate import upgrade
from tests.web_ui.browser_support import PHONE, SHOTS, Site, needs_chromium, served_team, sign_in

pytestmark = [needs_chromium, pytest.mark.asyncio(loop_scope="module")]

WIDTH = PHONE["width"]

PAGES: dict[str, Callable[[Site], str]] = {
    "dashboard": lambda s: "/ui/",
    "incidents": lambda s: "/ui/incidents",
    "incident": lambda s: f"/ui/incidents/{s.api}",
    "alerts": lambda s: "/ui/alerts",
    "alert": lambda s: "/ui/alerts/1",
    "silences": lambda s: "/ui/silences",
    "maintenance": lambda s: "/ui/maintenance",
    "oncall": lambda s: "/ui/oncall",
    "runbooks": lambda s: "/ui/runbooks",
    "procedure": lambda s: "/ui/procedures/api/api-not-responding",
    "run": lambda s: f"/ui/runbooks/runs/{s.run}",
    "oplog": lambda s: "/ui/oplog",
    "audit": lambda s: "/ui/audit",
    "check": lambda s: "/ui/checks/api/login",
}

WIDEST = """(limit) => {
    const name = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
        + (e.className ? '.' + e.className : '');
    const all = [...document.querySelectorAll('body *')];
    const wide = all.filter(e => e.getBoundingClientRect().right > limit);
    const scrolling = all.filter(e => e.scrollWidth > e.clientWidth + 1
        && ['auto', 'scroll'].includes(getComputedStyle(e).overflowX));
    return {width: document.documentElement.scrollWidth, wide: wide.slice(0, 8).map(name),
            scrolling: scrolling.map(name)};
}"""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def phone_site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    folder = tmp_path_factory.mktemp("phone")
    engine = make_engine(f"sqlite:///{folder}/opsbook.db")
    upgrade(engine)
    async with served_team(engine, FakeClock(), folder) as site:
        yield site
    engine.dispose()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def ana(phone_site: Site, browser: Browser) -> AsyncIterator[BrowserContext]:
    """A phone signed in as ana (an admin: every page, every action form on it)."""
    page = await sign_in(browser, phone_site.url, "ana", PHONE)
    yield page.context
    await page.context.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stranger(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A phone nobody signed in on."""
    context = await browser.new_context(viewport=PHONE)
    yield context
    await context.close()


async def fits(page: Page, name: str, full_page: bool = True) -> None:
    """The page is no wider than the phone; its screenshot is kept."""
    measured = await page.evaluate(WIDEST, WIDTH)
    assert measured["width"] <= WIDTH, f"{name} is {measured['width']} px wide: {measured['wide']}"
    assert not measured["scrolling"], f"{name} scrolls sideways in {measured['scrolling']}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}-phone.png"), full_page=full_page)


@pytest.mark.parametrize("name", PAGES)
async def test_operator_page_fits_a_phone(phone_site: Site, ana: BrowserContext, name: str) -> None:
    page = await ana.new_page()
    response = await page.goto(phone_site.url + PAGES[name](phone_site))
    assert response is not None and response.ok and page.url == phone_site.url + PAGES[name](phone_site)
    await fits(page, name)
    await page.close()


async def test_navigation_folds_into_a_menu(phone_site: Site, ana: BrowserContext) -> None:
    page = await ana.new_page()
    await page.goto(f"{phone_site.url}/ui/incidents/{phone_site.api}")
    assert await page.inner_text("nav.top .here") == "Incidents"
    oncall = page.locator('nav.top .links a[href="/ui/oncall"]')
    assert await oncall.is_hidden()
    await page.click("nav.top .nav-button")
    assert await oncall.is_visible() and await page.locator("#whoami").is_visible()
    await fits(page, "menu", full_page=False)
    await oncall.click()
    await page.wait_for_url(f"{phone_site.url}/ui/oncall")
    await page.close()


async def test_login_page_fits_a_phone(phone_site: Site, stranger: BrowserContext) -> None:
    page = await stranger.new_page()
    await page.goto(f"{phone_site.url}/ui/")
    await page.wait_for_selector("#username")  # sent to sign in
    await fits(page, "login")
    await page.close()


async def test_status_page_fits_a_phone_and_shows_today(phone_site: Site, stranger: BrowserContext) -> None:
    page = await stranger.new_page()
    await page.goto(f"{phone_site.url}/status")
    await fits(page, "status")
    for service in ("api", "web"):
        bars = page.locator(f'.service[data-service="{service}"] .bars span')
        shown = [b for b in await bars.all() if await b.is_visible()]
        assert 30 <= len(shown) < await bars.count() == 90  # fewer days than on a desktop, not too few
        today = await shown[-1].bounding_box()
        assert today is not None and today["width"] >= 2 and today["x"] + today["width"] <= WIDTH
        assert await shown[-1].get_attribute("data-day") == await bars.last.get_attribute("data-day")
        legend = await page.locator(f'.service[data-service="{service}"] .legend').inner_text()
        assert f"{len(shown)} days ago" in legend
    await page.close()

