"""The timer side of alert evaluation: `run_due` wakes when a pending alert's `for` has elapsed or a
damped resolve may go, even if no new result arrives, and hands the transitions to the same hooks as
the results path, in the same transaction.

    hooks = [notify_hook]            # hook(session, transitions, now), e.g. enqueue notifications
    task = asyncio.create_task(run_due(runtime.sessions, runtime.clock, engine, hooks))

It also looks at least every `max_wait` (another process may have created due alerts).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from opsbook.alerts.service import AlertEngine, AlertTransition
from opsbook.clock import Clock

log = logging.getLogger(__name__)

AlertHook = Callable[[Session, Sequence[AlertTransition], datetime], None]


def process_due_once(
    sessions: sessionmaker[Session], clock: Clock, engine: AlertEngine, hooks: Sequence[AlertHook] = ()
) -> tuple[list[AlertTransition], datetime | None]:
    """One pass in one transaction: due alerts evaluated, hooks run; returns them and the next due time."""
    with sessions.begin() as session:
        now = clock.now()
        transitions = engine.process_due(session, now)
        for hook in hooks:
            hook(session, transitions, now)
        return transitions, engine.next_due(session)


async def run_due(
    sessions: sessionmaker[Session],
    clock: Clock,
    engine: AlertEngine,
    hooks: Sequence[AlertHook] = (),
    max_wait: timedelta = timedelta(seconds=5),
    offload: bool = True,
) -> None:
    """Forever: process due alerts, then sleep until the next is due (at most `max_wait`).

    `offload` runs the database work in a thread (keep it on in the server; tests driving a FakeClock
    may turn it off so everything happens inside `clock.advance`)."""
    while True:
        nxt = None
        try:
            if offload:
                _, nxt = await asyncio.to_thread(process_due_once, sessions, clock, engine, hooks)
            else:
                _, nxt = process_due_once(sessions, clock, engine, hooks)
        except Exception:
            log.exception("evaluating due alerts failed; trying again in %s", max_wait)
        deadline = clock.now() + max_wait
        if nxt is not None and nxt < deadline:
            deadline = nxt
        await clock.sleep_until(deadline)
