"""The chore watch: a supervised loop that brings the chores up to now (`service.sync`): woken by runs
finishing (a run may do a chore) and chores marked by hand, else at the next instant a chore falls due or
one's time to do it ends."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from opsbook.chores import service
from opsbook.chores.service import Hooks
from opsbook.loops import Loop, Looped, Supervisor
from opsbook.runtime import Runtime

KEEPALIVE = timedelta(hours=1)


class ChoreWatch(Looped):
    def __init__(self, runtime: Runtime, hooks: Hooks, supervisor: Supervisor | None = None) -> None:
        self.runtime = runtime
        self.hooks = hooks
        self.loop = Loop("chores", self.step, runtime.clock, max_wait=KEEPALIVE, supervisor=supervisor)

    async def step(self) -> datetime | None:
        if not self.runtime.config.chores:
            return None
        return await asyncio.to_thread(service.sync, self.runtime, self.hooks)
