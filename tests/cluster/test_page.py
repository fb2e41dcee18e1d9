"""`/ui/cluster` and `opsbook cluster status` on PostgreSQL: an alive worker with its leases and duties, a
worker that vanished while holding checks (shown lost, its leases expired), a stopped server; the page
fits a phone (Chromium, 390 px) and a viewer may see it; the CLI table fits 80 columns."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import Browser
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from opsbook.cli.main import app
from opsbook.clock import FakeClock
from opsbook.cluster import members
from opsbook.cluster.identity import ProcessIdentity
from opsbook.cluster.leases import LeaseKeeper
from opsbook.runtime import Runtime
from tests.support import serving
from tests.web_ui.browser_support import PHONE, needs_chromium, sign_in
from tests.web_ui.conftest import browser  # noqa: F401  (Chromium, one per module)
from tests.web_ui.test_phone import WIDEST
from tests.web_ui.ui_support import CONFIG, runtime_for, ui_app


def three_members(runtime: Runtime) -> None:
    """alive (2 partitions, two duties), lost while holding 2 (its heartbeat a minute old), stopped."""
    alive = ProcessIdentity.for_worker("worker-eu-1-with-a-long-name")
    lost = ProcessIdentity.for_worker("worker-2")
    server = ProcessIdentity.for_serve(workers=False, name="api-1")
    for who in (alive, lost, server):
        members.join(runtime.sessions, who)
    members.beat(runtime.sessions, alive, frozenset({"escalation", "housekeeping"}), 0.012)
    members.leave(runtime.sessions, server)
    for who in (alive, lost):
        keeper = LeaseKeeper(runtime.sessions, who.member_id, runtime.config.cluster.lease, 4, runtime.clock)
        keeper.ensure_rows()
        keeper.claim(2)
    with runtime.engine.begin() as conn:
        conn.execute(text("UPDATE cluster_members SET heartbeat_at = now() - interval '1 minute' "
                          "WHERE id = :id"), {"id": lost.member_id})
        conn.execute(text("UPDATE check_leases SET expires_at = now() - interval '50 seconds' "
                          "WHERE holder = :id"), {"id": lost.member_id})


@pytest.fixture
def runtime(engines: list[Engine]) -> Runtime:
    made = runtime_for(engines[0], FakeClock(datetime(2026, 3, 2, 10, 0, tzinfo=UTC)))
    three_members(made)
    return made


@needs_chromium
@pytest.mark.asyncio(loop_scope="module")
async def test_the_cluster_page_shows_every_process_and_fits_a_phone(
    browser: Browser, runtime: Runtime  # noqa: F811
) -> None:
    async with serving(ui_app(runtime)) as url:
        page = await sign_in(browser, url, "vera", PHONE)  # a viewer
        await page.goto(url + "/ui/cluster")
        rows = {await r.get_attribute("data-member"): await r.inner_text()
                for r in await page.locator("tr[data-member]").all()}
        assert set(rows) == {"worker-eu-1-with-a-long-name", "worker-2", "api-1"}
        assert "escalation" in rows["worker-eu-1-with-a-long-name"] and "alive" in rows[
            "worker-eu-1-with-a-long-name"]
        assert "lost" in rows["worker-2"] and "2 expired" in rows["worker-2"]
        assert "stopped" in rows["api-1"]
        measured = await page.evaluate(WIDEST, PHONE["width"])
        assert measured["width"] <= PHONE["width"], measured["wide"]
        assert not measured["scrolling"], measured["scrolling"]
        await page.context.close()


def test_the_cli_table_fits_80_columns(runtime: Runtime, tmp_path: Path) -> None:
    config = tmp_path / "opsbook.yaml"
    config.write_text(CONFIG)  # the runtime's
    url = runtime.engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(app, ["cluster", "status", "-c", str(config)],
                                env={"OPSBOOK_DATABASE_URL": url, "COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80, result.output
    assert "lost" in result.output and "2 expired" in result.output and "stopped" in result.output
    assert "1 worker alive; 4 partitions of checks, 2 held by none" in result.output
