"""The escalation engine: pages each open, unacknowledged incident's next level when it falls due,
records missed SLAs, and re-notifies acknowledged incidents left unresolved, on the injected Clock.

    engine = EscalationEngine(runtime, supervisor=supervisor)
    engine.start(); ...; engine.wake(); ...; await engine.stop()

`tick(now)` is one pass: for every open incident, in its own transaction with the incident row locked
(`FOR UPDATE` on PostgreSQL), `paging.advance` sends the due steps of the incident's *snapshotted*
policy that have no `incident_escalation_steps` row yet (the pages, the step row, the timeline entry and
the events commit together) and records a missed acknowledgement deadline. It returns when the next step
or deadline is due. The engine is a supervised `Loop`: it sleeps until then (at most `max_wait`, since
another process may open incidents) or until `wake()` (a committed `Topic.INCIDENTS` event). All state
is in the database, so a new engine after a restart sends what fell due while it was down, at once, and
never a step that was already sent.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from opsbook.incidents.paging import advance
from opsbook.incidents.queries import open_incident_ids
from opsbook.incidents.records import lock
from opsbook.loops import Loop, Looped, Supervisor
from opsbook.runtime import Runtime

log = logging.getLogger(__name__)

RETRY_INCIDENT = timedelta(seconds=5)
"""An incident whose pass failed is tried again this soon (the others are not held up)."""


@dataclass
class TickResult:
    """What one pass did: steps sent as (incident id, step key), incidents whose SLA was missed, next due."""

    sent: list[tuple[int, str]] = field(default_factory=list)
    breached: list[int] = field(default_factory=list)
    next_at: datetime | None = None


class EscalationEngine(Looped):
    """Drives the escalations of all open incidents. Stateless between ticks: the database is the state."""

    finish_round_on_stop = True  # a pass is never cut in the middle

    def __init__(
        self,
        runtime: Runtime,
        *,
        max_wait: timedelta = timedelta(seconds=30),
        offload: bool = True,
        supervisor: Supervisor | None = None,
    ) -> None:
        self.runtime = runtime
        self.offload = offload
        self.loop = Loop("escalation", self.step, runtime.clock, max_wait=max_wait, supervisor=supervisor)

    def tick(self, now: datetime) -> TickResult:
        """Advance every open incident to `now`; one transaction per incident (blocking)."""
        config = self.runtime.config
        sessions = self.runtime.sessions
        result = TickResult()
        with sessions() as session:
            ids = open_incident_ids(session)
        upcoming: list[datetime] = []
        for incident_id in ids:
            try:
                with sessions.begin() as session:
                    done = advance(session, config, lock(session, incident_id), now)
                    result.sent += [(incident_id, s.step_key) for s in done.sent]
                    if done.breached:
                        result.breached.append(incident_id)
                    if done.next_at is not None:
                        upcoming.append(done.next_at)
            except Exception:
                # one broken incident must not stop the others; it is tried again soon
                log.exception("escalating incident %s failed; trying again", incident_id)
                upcoming.append(now + RETRY_INCIDENT)
        result.next_at = min(upcoming) if upcoming else None
        return result

    async def step(self) -> datetime | None:
        """One pass at the clock's time (in a thread unless `offload` is off); when the next is due."""
        now = self.runtime.clock.now()
        done = await asyncio.to_thread(self.tick, now) if self.offload else self.tick(now)
        return done.next_at

