"""A check kind for scheduler tests whose behaviour each test controls."""

from __future__ import annotations

import asyncio
from typing import Literal

from opsbook.checks.result import CheckResult
from opsbook.checks.spec import CheckSpec, RunContext

HANG: set[str] = set()
RUNS: dict[str, int] = {}


class FakeCheck(CheckSpec):
    kind: Literal["fake"] = "fake"

    async def run(self, ctx: RunContext) -> CheckResult:
        RUNS[self.name] = RUNS.get(self.name, 0) + 1
        if self.name in HANG:
            await asyncio.Event().wait()  # never answers
        return CheckResult.up(1.0)
