"""Fixtures of the browser tests: Debian's Chromium (one per module), and a served opsbook with a seeded
team. Browser test modules run on one event loop per module (`pytest.mark.asyncio(loop_scope="module")`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from playwright.async_api import Browser, async_playwright
from sqlalchemy import Engine

from opsbook.clock import FakeClock
from tests.web_ui.browser_support import ARGS, CHROMIUM, Site, served_team


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield b
        finally:
            await b.close()


@pytest_asyncio.fixture(loop_scope="module")
async def site(sqlite_engine: Engine, clock: FakeClock, tmp_path: Path) -> AsyncIterator[Site]:
    async with served_team(sqlite_engine, clock, tmp_path) as served:
        yield served
