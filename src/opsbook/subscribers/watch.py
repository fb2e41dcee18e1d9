"""The subscriber watch: a supervised loop announcing public events to status page subscribers
(`service.sync`): woken by incident and maintenance changes, else when the next maintenance notice is
due, and at least hourly."""

from __future__ import annotations

import asyncio
from datetime import datetime

from opsbook.loops import Loop, Looped, Supervisor
from opsbook.runtime import Runtime
from opsbook.subscribers import service
from opsbook.subscribers.service import KEEPALIVE


class SubscriberWatch(Looped):
    def __init__(self, runtime: Runtime, supervisor: Supervisor | None = None) -> None:
        self.runtime = runtime
        self.loop = Loop("subscribers", self.step, runtime.clock, max_wait=KEEPALIVE, supervisor=supervisor)

    async def step(self) -> datetime | None:
        return await asyncio.to_thread(service.sync, self.runtime)
