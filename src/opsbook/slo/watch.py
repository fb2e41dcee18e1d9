"""The SLO watch: a supervised loop that raises and resolves the burn-rate alerts (`service.sync`),
woken by checks changing state and maintenance changing, else at the next instant an alert's condition
changes (at least hourly)."""

from __future__ import annotations

import asyncio
from datetime import datetime

from opsbook.loops import Loop, Looped, Supervisor
from opsbook.runtime import Runtime
from opsbook.slo import service
from opsbook.slo.service import LOOKAHEAD, Hooks


class SloWatch(Looped):
    def __init__(self, runtime: Runtime, hooks: Hooks, supervisor: Supervisor | None = None) -> None:
        self.runtime = runtime
        self.hooks = hooks
        self.loop = Loop(
            "slo burn alerts", self.step, runtime.clock, max_wait=LOOKAHEAD, supervisor=supervisor
        )

    async def step(self) -> datetime | None:
        if not self.runtime.config.slos:
            return None
        return await asyncio.to_thread(service.sync, self.runtime, self.hooks)
