"""The chores in the browser (Chromium, 390 px wide): the dashboard's "Chores due" panel and the chores
page fit a phone without sideways scrolling, and a responder skips a chore there with a reason."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page
from sqlalchemy import Engine

from opsbook.chores import service
from opsbook.clock import FakeClock
from tests.support import serving
from tests.web_ui.browser_support import PHONE, RUNBOOK, needs_chromium, sign_in, team_config
from tests.web_ui.conftest import browser  # noqa: F401  (Chromium, one per module)
from tests.web_ui.test_phone import WIDEST
from tests.web_ui.ui_support import runtime_for, ui_app

pytestmark = [needs_chromium, pytest.mark.asyncio(loop_scope="module")]

CHORES = """\
chores:
  - name: check-the-api-pool-and-the-load-balancer-weekly
    procedure: API Not Responding
    schedule: "0 10 * * 1"
    oncall: primary
    within: 2d
"""


async def _fits(page: Page) -> None:
    measured = await page.evaluate(WIDEST, PHONE["width"])
    assert measured["width"] <= PHONE["width"], measured["wide"]
    assert not measured["scrolling"], measured["scrolling"]


async def test_chores_on_a_phone(browser: Browser, sqlite_engine: Engine, tmp_path: Path) -> None:  # noqa: F811
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "api.md").write_text(RUNBOOK)
    clock = FakeClock(datetime(2026, 3, 2, 10, 0, tzinfo=UTC))  # a Monday, 10:00 UTC: due now
    runtime = runtime_for(sqlite_engine, clock, team_config(tmp_path / "runbooks") + CHORES)
    service.sync(runtime, service.alert_hooks(runtime))
    async with serving(ui_app(runtime)) as url:
        page = await sign_in(browser, url, "ana", PHONE)
        panel = page.locator("#chores-due")
        await panel.wait_for()
        assert "check-the-api-pool-and-the-load-balancer-weekly" in await panel.inner_text()
        assert "2026-03-04 10:00 UTC" in await panel.inner_text()  # the deadline, in the team's zone
        await _fits(page)
        await page.goto(url + "/ui/chores")
        row = page.locator("tr[data-chore]")
        assert "due" in await row.inner_text() and "on call: primary" in await row.inner_text()
        assert 'opsbook runbook run "API Not Responding"' in await row.inner_text()
        await _fits(page)
        await row.locator("input[name=reason]").fill("the pool was checked in last week's incident")
        await row.get_by_role("button", name="Skip").click()
        await page.wait_for_url(url + "/ui/chores*")
        assert "skipped this time" in await page.inner_text("body")
        recent = await page.locator("#occurrences").inner_text()
        assert "skipped" in recent and "last week's incident" in recent
        await _fits(page)
        await page.context.close()
