"""The deploys in the browser (Chromium): the Deploys page with the month's DORA figures and the recent
deploys, one deploy's page with its checklist, figures and output, the deploy marker on a check's chart,
and the deploy in an incident's timeline; every one of them fits a 390 px phone without sideways scrolling.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page

from opsbook.auth.roles import Principal, Role
from opsbook.clock import FakeClock
from opsbook.db.engine import make_engine
from opsbook.db.migrate import upgrade
from opsbook.deploys import service
from opsbook.deploys.models import DeployRow
from opsbook.incidents import queries as incidents
from tests.web_ui.browser_support import DESKTOP, PHONE, SHOTS, Site, needs_chromium, served_team, sign_in
from tests.web_ui.conftest import browser  # noqa: F401  (the module's Chromium)

pytestmark = [needs_chromium, pytest.mark.asyncio(loop_scope="module")]

WIDEST = """(limit) => {
    const all = [...document.querySelectorAll('body *')];
    const wide = all.filter(e => e.getBoundingClientRect().right > limit).map(e => e.tagName);
    const scrolling = all.filter(e => e.scrollWidth > e.clientWidth + 1
        && ['auto', 'scroll'].includes(getComputedStyle(e).overflowX)).map(e => e.tagName);
    return {width: document.documentElement.scrollWidth, wide: wide.slice(0, 8), scrolling: scrolling};
}"""


def seed_deploys(site: Site) -> int:
    """A recorded release a day ago and a deploy of api 2.0 rolled back 20 minutes ago (before the seeded
    incidents, opened eleven minutes ago): returns the rolled-back deploy's id."""
    runtime = site.runtime
    now = runtime.clock.now()
    release = service.ChangeIn(
        "api",
        "1.9",
        "production",
        started_at=now - timedelta(days=1),
        commit="4e1d0c2",
        committed_at=now - timedelta(days=1, hours=3),
        summary="weekly release",
    )
    service.record_change(runtime, Principal("ci", Role.RESPONDER, "api"), release)
    verdict = {
        "regression": True,
        "reasons": ["api/login: error rate 25.0 % against a baseline of 0.0 % (allowed 2.0 %)"],
        "checks": [
            {
                "check": "api/login",
                "baseline": {"count": 12, "failures": 0, "error_rate": 0.0, "p95_ms": 31.0},
                "window": {"count": 4, "failures": 1, "error_rate": 0.25, "p95_ms": 512.0},
                "allowed_error_rate": 0.02,
                "allowed_p95_ms": 81.0,
                "reasons": [],
            }
        ],
    }
    with runtime.sessions.begin() as session:
        row = DeployRow(
            service="api",
            env="production",
            version="2.0",
            previous_version="1.9",
            kind="deploy",
            status="rolled_back",
            source="cli",
            actor="ana",
            forced=False,
            force_reason="",
            summary="",
            started_at=now - timedelta(minutes=20),
            ended_at=now - timedelta(minutes=18),
            checklist=[
                {
                    "phase": "pre",
                    "item": "Code review approved",
                    "done": True,
                    "by": "ana",
                    "how": "asked",
                    "at": (now - timedelta(minutes=20)).isoformat(),
                }
            ],
            output="$ ./deploy.sh production 2.0\n" + "switching production to 2.0 " * 20 + "\n[exit 0]\n",
            verdict=verdict,
            rollback_version="1.9",
            regression_at=now - timedelta(minutes=19),
            restored_at=now - timedelta(minutes=19) + timedelta(seconds=12),
            restore_seconds=12.0,
            detail={},
        )
        session.add(row)
        session.flush()
        return row.id


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Site, int]]:
    folder: Path = tmp_path_factory.mktemp("deploy-pages")
    engine = make_engine(f"sqlite:///{folder}/opsbook.db")
    upgrade(engine)
    async with served_team(engine, FakeClock(), folder) as served:
        yield served, seed_deploys(served)
    engine.dispose()


async def fits(page: Page, name: str) -> None:
    """No wider than the phone, nothing scrolling sideways; the screenshot is kept in docs/screenshots/."""
    measured = await page.evaluate(WIDEST, PHONE["width"])
    assert measured["width"] <= PHONE["width"], f"{name} is {measured['width']} px wide: {measured['wide']}"
    assert not measured["scrolling"], f"{name} scrolls sideways in {measured['scrolling']}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}-phone.png"), full_page=True)


async def test_the_deploys_pages_on_a_desktop_and_a_phone(site: tuple[Site, int], browser: Browser) -> None:  # noqa: F811
    served, deploy_id = site
    for viewport in (DESKTOP, PHONE):
        page = await sign_in(browser, served.url, "ana", viewport)
        await page.goto(f"{served.url}/ui/deploys")
        dora = await page.inner_text("#dora")
        assert "api" in dora and "50 %" in dora and "12 s" in dora  # 2 deploys, 1 failed, restored in 12 s
        listed = await page.inner_text("#deploy-list")
        assert "api 2.0 deployed by ana (production, rolled back to 1.9)" in listed
        assert "api 1.9 deployed by ci (production)" in listed
        if viewport == PHONE:
            await fits(page, "deploys")

        await page.click(f'a[href="/ui/deploys/{deploy_id}"]')
        await page.wait_for_url(f"{served.url}/ui/deploys/{deploy_id}")
        assert await page.inner_text("#deploy-status") == "rolled back"
        assert "Code review approved" in await page.inner_text("#checklist")
        figures = await page.inner_text("#verification")
        assert "error rate 25.0 % against a baseline of 0.0 %" in figures and "512 ms" in figures
        assert "opsbook deploy rollback api --env production" in await page.inner_text("main")
        if viewport == PHONE:
            await fits(page, "deploy")

        await page.goto(f"{served.url}/ui/checks/api/login?range=6h")  # the deploy on the check's chart
        assert await page.locator("svg.chart g.marker").count() == 1
        assert await page.text_content("svg.chart g.marker text") == "2.0"

        await page.goto(f"{served.url}/ui/incidents/{served.api}")
        timeline = await page.inner_text("#timeline")
        assert (
            "api 2.0 deployed by ana (production, rolled back to 1.9) 9 min before this incident" in timeline
        )
        if viewport == PHONE:
            await fits(page, "incident-deploy")
        await page.context.close()
    with served.runtime.sessions() as session:
        assert any(i.kind == "deploy" for i in incidents.timeline(session, served.api))
