"""The pipeline's database-care and capacity duties, each a supervised loop's step:

- `maintenance`: run the maintenance tasks due now in their windows (wakes at the next firing);
- `samples`: store a snapshot of every measuring postgres database every `postgres.sample_every`
  (the report's history and the windows of top queries);
- `capacity`: roll the forecast values' closed hours up (every 5 minutes; cheap when nothing is new).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from opsbook.capacity.rollup import tracked_values
from opsbook.capacity.service import roll_up_values
from opsbook.postgres import service, upkeep
from opsbook.runtime import Runtime

log = logging.getLogger(__name__)
ROLLUP_EVERY = timedelta(minutes=5)
MAINTENANCE_RECHECK = timedelta(minutes=10)
"""At most this long between two looks at the maintenance tasks (a window's end, a config change)."""


class DatabaseCare:
    def __init__(self, runtime: Runtime, hooks: upkeep.Hooks) -> None:
        self.runtime = runtime
        self.hooks = hooks
        self.tracked = tracked_values(runtime.config)

    async def maintenance(self) -> datetime | None:
        if not self.runtime.config.postgres.maintenance:
            return None
        _done, wake = await asyncio.to_thread(upkeep.run_due, self.runtime, self.hooks)
        cap = self.runtime.clock.now() + MAINTENANCE_RECHECK
        return cap if wake is None else min(wake, cap)

    async def samples(self) -> datetime | None:
        found = service.databases(self.runtime)
        if not found:
            return None
        for check_id, spec in found.items():
            try:
                await asyncio.to_thread(service.store_sample, self.runtime, check_id, spec)
            except service.DatabaseUnreachable as exc:  # the check itself alerts on that
                log.info("no sample of %s: %s", check_id, exc)
        return self.runtime.clock.now() + self.runtime.config.postgres.sample_every

    async def capacity(self) -> datetime | None:
        if not self.tracked:
            return None
        await asyncio.to_thread(roll_up_values, self.runtime, self.tracked)
        return self.runtime.clock.now() + ROLLUP_EVERY
