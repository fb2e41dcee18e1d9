"""The DR table and the secrets page in a real browser: what they show, their actions, and that both fit
a phone (390 px, nothing scrolls sideways)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page

from opsbook.auth.roles import Principal, Role
from opsbook.backups import service as backups
from opsbook.backups.drill import DrillOutcome
from opsbook.clock import FakeClock
from opsbook.db.engine import make_engine
from opsbook.db.migrate import upgrade
from opsbook.secrets import service as secrets
from tests.support import serving
from tests.web_ui.browser_support import PHONE, needs_chromium, sign_in
from tests.web_ui.conftest import browser  # noqa: F401  (fixture re-used here)
from tests.web_ui.test_phone import WIDEST
from tests.web_ui.ui_support import CONFIG, runtime_for, ui_app

pytestmark = [needs_chromium, pytest.mark.asyncio(loop_scope="module")]

TEAM = CONFIG + """
backups:
  - name: shop-nightly
    component: shop database with a rather long descriptive name
    schedule: "0 2 * * *"
    rpo: 1d
    rto: 30m
    heartbeat: {}
    drill: {schedule: "0 4 * * 0", command: "echo restored into $OPSBOOK_DRILL_NAME"}
  - name: uploads
    component: user uploads
    schedule: "@daily"
    rto: 2h
    heartbeat: {}
secrets:
  - {name: jwt-signing-key, owner: ana, protects: API sessions (api), every: 90d}
  - {name: redis-password, owner: rick, every: 180d}
"""
RICK = Principal("rick", Role.RESPONDER, "test")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    folder: Path = tmp_path_factory.mktemp("dr")
    engine = make_engine(f"sqlite:///{folder}/opsbook.db")
    upgrade(engine)
    clock = FakeClock()
    runtime = runtime_for(engine, clock, TEAM)
    [job] = [j for j in runtime.config.backups if j.name == "shop-nightly"]
    failed = DrillOutcome(ok=False, restored="/backups/shop-2026-01-04-a-very-long-dump-file-name.dump",
                          scratch="opsbook_drill_shop_nightly_0badc0de", scratch_dropped=True,
                          error="restore failed (exit code 1): pg_restore: error: could not read input file: "
                                "end of file" + " (and a long tail of output)" * 8)
    backups.record_drill(runtime, RICK, job, failed, clock.now() - timedelta(days=1), "schedule")
    secrets.record_rotation(runtime, RICK, "jwt-signing-key", at=clock.now() - timedelta(days=91))
    secrets.report_compromise(runtime, RICK, "redis-password", "seen in a support ticket")
    async with serving(ui_app(runtime)) as url:
        yield url
    engine.dispose()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def phone(site: str, browser: Browser) -> AsyncIterator[Page]:  # noqa: F811
    page = await sign_in(browser, site, "ana", PHONE)
    yield page
    await page.context.close()


async def fits(page: Page) -> None:
    measured = await page.evaluate(WIDEST, PHONE["width"])
    assert measured["width"] <= PHONE["width"], measured["wide"]
    assert not measured["scrolling"], measured["scrolling"]


async def test_the_dr_table_shows_targets_measurements_and_verdicts_and_fits_a_phone(
    site: str, phone: Page
) -> None:
    await phone.goto(f"{site}/ui/backups")
    row = phone.locator('#dr tr[data-job="shop-nightly"]')
    text = await row.inner_text()
    assert "30m" in text and "1d" in text and "at risk" in text and "no backup yet" in text
    assert "restore drill of" in text and "failed" in text
    uploads = await phone.locator('#dr tr[data-job="uploads"]').inner_text()
    assert "2h" in uploads and "never" in uploads
    assert "pg_restore: error: could not read input file" in await phone.locator("#drills").inner_text()
    await fits(phone)

    # a responder runs the drill from the page: it passes, and the table says so
    await phone.click('#dr tr[data-job="shop-nightly"] button:has-text("Drill now")')
    await phone.wait_for_selector(".flash")
    assert "Drill of shop-nightly passed: RTO" in await phone.inner_text(".flash")
    assert "passed" in await phone.locator("#drills tbody tr").first.inner_text()
    await fits(phone)


async def test_the_secrets_page_shows_age_against_policy_and_fits_a_phone(site: str, phone: Page) -> None:
    await phone.goto(f"{site}/ui/secrets")
    jwt = await phone.locator('#secrets tr[data-secret="jwt-signing-key"]').inner_text()
    assert "every 90d" in jwt and "91 d" in jwt and "overdue" in jwt and "API sessions" in jwt
    redis = await phone.locator('#secrets tr[data-secret="redis-password"]').inner_text()
    assert "compromised" in redis and "seen in a support ticket" in redis and "incident #" in redis
    await fits(phone)

    await phone.click('#secrets tr[data-secret="jwt-signing-key"] button:has-text("Rotated now")')
    await phone.wait_for_selector(".flash")
    assert "Rotation of jwt-signing-key recorded." in await phone.inner_text(".flash")
    jwt = await phone.locator('#secrets tr[data-secret="jwt-signing-key"]').inner_text()
    assert "ok" in jwt and "91 d" not in jwt
