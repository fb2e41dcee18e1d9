"""Browser tests: Debian's Chromium driven by Playwright against a real opsbook server on 127.0.0.1.

Sign in; see the failing check on the dashboard; acknowledge its incident and see the timeline update;
a viewer is refused; the public status page shows the incident and the uptime bars without signing in.
The desktop screenshots in docs/screenshots/ are taken here (the phone ones in test_phone.py).
"""

from __future__ import annotations

import pytest
from playwright.async_api import Browser

from opsbook.incidents.queries import get_incident
from tests.web_ui.browser_support import SHOTS, Site, needs_chromium, sign_in
from tests.web_ui.ui_support import PRIVATE_WORDS

pytestmark = [needs_chromium, pytest.mark.asyncio(loop_scope="module")]


async def test_sign_in_dashboard_acknowledge_and_status_page(
    site: Site, browser: Browser
) -> None:
    url, runtime = site.url, site.runtime
    SHOTS.mkdir(parents=True, exist_ok=True)

    # a wrong password is refused
    context = await browser.new_context()
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
    assert await page.locator("nav.top .nav-button").is_hidden()  # no menu button: the links are shown
    assert await page.locator('nav.top .links a[href="/ui/oncall"]').is_visible()
    await page.screenshot(path=str(SHOTS / "dashboard.png"), full_page=True)

    # from the dashboard to the incident, acknowledge it, and the timeline shows it
    await page.click(f'#open-incidents a[href="/ui/incidents/{site.api}"]')
    await page.wait_for_url(f"{url}/ui/incidents/{site.api}")
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
    await page.fill("#public-update-form textarea", "Some API requests fail; a fix is being rolled out.")
    await page.select_option("#public-update-form select", "identified")
    await page.click("#public-update-form button")
    await page.wait_for_selector("#flash")
    assert "Some API requests fail" in await page.inner_text("#public")
    await page.screenshot(path=str(SHOTS / "incident.png"), full_page=True)
    with runtime.sessions() as session:
        row_ = get_incident(session, site.api)
        assert row_.acknowledged_by == "rick"

    # the public status page, without signing in
    anonymous = await browser.new_context(viewport={"width": 1100, "height": 900})
    public = await anonymous.new_page()
    await public.goto(f"{url}/status")
    assert "API health check failing" in await public.inner_text("#active-incidents")
    shown = await public.inner_text("#active-incidents")
    assert "Some API requests fail; a fix is being rolled out." in shown
    assert "The database pool is exhausted" not in shown  # the status message was the team's
    api = public.locator('.service[data-service="api"]')
    assert await api.get_attribute("data-state") == "partial_outage"
    assert await api.locator(".bars span").count() == 90
    assert await api.locator(".bars span:visible").count() == 90  # a desktop has room for every day
    assert "90 days ago" in await api.locator(".legend").inner_text()
    assert await api.locator(".bars span.st-operational").count() >= 5
    assert await api.locator(".bars span.st-no_data").count() >= 80  # no history before a week ago
    assert "uptime" in await api.locator(".uptime").inner_text()
    html = await public.content()
    for word in PRIVATE_WORDS:
        assert word not in html
    await public.screenshot(path=str(SHOTS / "status.png"), full_page=True)


async def test_viewer_is_refused_the_acknowledge_action(
    site: Site, browser: Browser
) -> None:
    url, runtime = site.url, site.runtime
    page = await sign_in(browser, url, "vera")
    await page.goto(f"{url}/ui/incidents/{site.other}")
    assert "viewer role" in await page.inner_text("#read-only")
    assert await page.locator("#ack").count() == 0
    # posting the form anyway (with a valid CSRF token) is refused by the server
    status = await page.evaluate(
        """async (path) => {
            const token = document.querySelector('input[name=csrf_token]').value;
            const r = await fetch(path, {method: 'POST', headers: {'X-CSRF-Token': token}});
            return r.status;
        }""",
        f"/ui/incidents/{site.other}/ack",
    )
    assert status == 403
    with runtime.sessions() as session:
        assert get_incident(session, site.other).acknowledged_at is None
