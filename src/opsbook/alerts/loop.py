"""The timer side of alert evaluation: `DueAlerts` evaluates alerts when a pending alert's `for` has
elapsed or a damped resolve may go, even if no new result arrives, and hands the transitions to the same
hooks as the results path, in the same transaction.

    due = DueAlerts(runtime.sessions, runtime.clock, engine, hooks, supervisor=supervisor)
    due.start(); ...; await due.stop()

Each round (`step`) is one transaction; the next is at the earliest due alert, and at least every
`max_wait` (another process may have created due alerts). It runs on a supervised `opsbook.loops.Loop`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from opsbook.alerts.service import AlertEngine
from opsbook.alerts.types import AlertHook, AlertTransition
from opsbook.clock import Clock
from opsbook.loops import Loop, Looped, Supervisor

MAX_WAIT = timedelta(seconds=5)


class DueAlerts(Looped):
    """Evaluates due alerts on time; `offload` runs the database work in a thread (keep it on in the
    server; tests driving a FakeClock may turn it off so everything happens inside `clock.advance`)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        engine: AlertEngine,
        hooks: Sequence[AlertHook] = (),
        *,
        max_wait: timedelta = MAX_WAIT,
        offload: bool = True,
        supervisor: Supervisor | None = None,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.engine = engine
        self.hooks = hooks
        self.offload = offload
        self.loop = Loop("due alerts", self.step, clock, max_wait=max_wait, supervisor=supervisor)

    def process_once(self) -> tuple[list[AlertTransition], datetime | None]:
        """One pass in one transaction: due alerts evaluated, hooks run; them and the next due time."""
        with self.sessions.begin() as session:
            now = self.clock.now()
            transitions = self.engine.process_due(session, now)
            for hook in self.hooks:
                hook(session, transitions, now)
            return transitions, self.engine.next_due(session)

    async def step(self) -> datetime | None:
        if self.offload:
            _, nxt = await asyncio.to_thread(self.process_once)
        else:
            _, nxt = self.process_once()
        return nxt
