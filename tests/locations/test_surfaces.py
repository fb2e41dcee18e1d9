"""Where a location that disagrees shows: the API (the check's locations, one location's own results),
`opsbook status` at 80 columns, and the check page on a phone (390 px, nothing scrolling sideways)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser
from sqlalchemy import Engine

from opsbook.auth.roles import Role
from opsbook.auth.tokens import create_token
from opsbook.checks.result import CheckResult, Status, StoredResult
from opsbook.clock import FakeClock
from opsbook.locations.combine import LocatedStore
from opsbook.runtime import Runtime
from opsbook.web.app import create_app
from tests.support import serving
from tests.web_ui.browser_support import PHONE, needs_chromium, sign_in
from tests.web_ui.conftest import browser  # noqa: F401  (the module's Chromium)
from tests.web_ui.ui_support import CONFIG, runtime_for, ui_app

LOCATED = CONFIG.replace(
    "      - {name: home, kind: tcp, host: 127.0.0.1, port: 1, interval: 30s}\n",
    "      - {name: home, kind: tcp, host: 127.0.0.1, port: 1, interval: 30s}\n"
    "      - {name: edge, kind: tcp, host: 127.0.0.1, port: 1, interval: 30s, locations: [eu, us, ap]}\n",
)
WIDEST = """(limit) => {
    const all = [...document.querySelectorAll('body *')];
    const scrolling = all.filter(e => e.scrollWidth > e.clientWidth + 1
        && ['auto', 'scroll'].includes(getComputedStyle(e).overflowX)).map(e => e.tagName);
    return {width: document.documentElement.scrollWidth, scrolling: scrolling};
}"""


def seed(runtime: Runtime) -> None:
    """Two rounds of eu and us up and ap refused, 30 s apart, the newest a few seconds ago."""
    store = LocatedStore(runtime.config.checks())
    now = runtime.clock.now()
    for n, back in enumerate((40, 10)):
        for i, (where, status) in enumerate((("eu", "up"), ("us", "up"), ("ap", "down"))):
            message = "connected" if status == "up" else "10.0.0.7:443: connection refused"
            result = CheckResult(Status(status), 20.0 + n + i, message)
            with runtime.sessions.begin() as session:
                store.write(session, [StoredResult(f"web/edge@{where}", now - timedelta(seconds=back - i),
                                                   result)])


@pytest.fixture
def runtime(sqlite_engine: Engine) -> Runtime:
    # starts at the wall clock: `opsbook status` (a real process) judges freshness by it
    made = runtime_for(sqlite_engine, FakeClock(datetime.now(UTC)), LOCATED)
    seed(made)
    return made


async def test_the_api_shows_each_location_and_the_one_that_disagrees(runtime: Runtime) -> None:
    with runtime.sessions.begin() as session:
        token = create_token(session, "viewer", Role.VIEWER, runtime.clock.now())
    headers = {"Authorization": f"Bearer {token}"}
    transport = httpx.ASGITransport(app=create_app(runtime, run_pipeline=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://opsbook", headers=headers) as http:
        check = (await http.get("/api/v1/checks/web/edge")).json()
        assert check["state"]["status"] == "up"
        where = check["locations"]
        assert (where["quorum"], where["verdict"], where["summary"]) == ("2 of 3", "up", "down from ap only")
        assert where["disagreeing"] == ["ap"]
        assert [(x["location"], x["status"], x["agrees"]) for x in where["locations"]] == [
            ("eu", "up", True), ("us", "up", True), ("ap", "down", False)]
        listed = {c["id"]: c for c in (await http.get("/api/v1/checks")).json()}
        assert listed["web/edge"]["locations"]["disagreeing"] == ["ap"]
        assert listed["web/home"]["locations"] is None
        ap = (await http.get("/api/v1/checks/web/edge/results", params={"location": "ap"})).json()
        assert [r["status"] for r in ap] == ["down", "down"]
        mine = (await http.get("/api/v1/checks/web/edge/results")).json()  # the check's own: the verdicts
        assert [r["message"] for r in mine] == ["down from ap only", "up from eu; us, ap not reporting"]
        wrong = await http.get("/api/v1/checks/web/edge/results", params={"location": "mars"})
        assert wrong.status_code == 404 and "not probed from 'mars'" in wrong.json()["detail"]


def test_opsbook_status_says_which_location_disagrees_at_80_columns(runtime: Runtime, tmp_path: Path) -> None:
    config = tmp_path / "opsbook.yaml"
    config.write_text(LOCATED)
    env = {**os.environ, "OPSBOOK_DATABASE_URL": str(runtime.engine.url), "COLUMNS": "80"}
    out = subprocess.run([str(Path(sys.executable).parent / "opsbook"), "status", "-c", str(config)],
                         capture_output=True, text=True, env=env, check=True).stdout
    assert all(len(line) <= 80 for line in out.splitlines()), out
    assert "down from ap only" in out


@pytest_asyncio.fixture(loop_scope="module")
async def page_url(runtime: Runtime) -> AsyncIterator[str]:
    async with serving(ui_app(runtime)) as url:
        yield url


@needs_chromium
@pytest.mark.asyncio(loop_scope="module")
async def test_the_check_page_shows_the_locations_on_a_phone(page_url: str, browser: Browser) -> None:  # noqa: F811
    page = await sign_in(browser, page_url, "vera", PHONE)
    await page.goto(f"{page_url}/ui/checks/web/edge")
    assert await page.inner_text("#locations-summary") == "disagrees down from ap only"
    row = await page.inner_text("#locations tr[data-location=ap]")
    assert "down" in row and "disagrees" in row and "connection refused" in row
    measured = await page.evaluate(WIDEST, PHONE["width"])
    assert measured["width"] <= PHONE["width"] and not measured["scrolling"], measured
    await page.context.close()


async def test_on_sqlite_a_located_check_run_once_looks_like_any_check(sqlite_engine: Engine) -> None:
    runtime = runtime_for(sqlite_engine, FakeClock(), LOCATED)
    with runtime.sessions.begin() as session:  # what `serve` on SQLite writes: the check's own results
        LocatedStore(runtime.config.checks()).write(
            session, [StoredResult("web/edge", runtime.clock.now(), CheckResult.down("refused"))])
        token = create_token(session, "viewer", Role.VIEWER, runtime.clock.now())
    transport = httpx.ASGITransport(app=create_app(runtime, run_pipeline=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://opsbook",
                                 headers={"Authorization": f"Bearer {token}"}) as http:
        check = (await http.get("/api/v1/checks/web/edge")).json()
    assert check["state"]["status"] == "down" and check["state"]["last_message"] == "refused"
    assert check["locations"] is None
