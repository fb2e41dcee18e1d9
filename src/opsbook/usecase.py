"""What every use case shares: one transaction that carries the change, its audit row and its events.

A use case is a function in its domain's `service.py` that a person or the pipeline calls to change
something. It takes the runtime and the acting `Principal`, checks the role it needs, opens one
`transaction`, and does everything inside it:

    def acknowledge(runtime: Runtime, actor: Principal, incident_id: int) -> IncidentRow:
        with transaction(runtime, actor, needs=Role.RESPONDER) as tx:
            row = lifecycle.acknowledge(tx.session, runtime.config, incident_id, tx.now, actor)
            tx.audit("incident.ack", f"incident:{incident_id}")
            tx.emit(DomainEvent(Topic.INCIDENTS, "acknowledged", f"incident:{incident_id}"))
            return row

The audit row commits with the change or not at all; the events are published after the commit (see
`opsbook.events`). API routes, web UI handlers and CLI commands call use cases and present the result;
errors are `opsbook.errors`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from opsbook.auth.audit import record
from opsbook.auth.roles import Principal, Role
from opsbook.errors import Forbidden
from opsbook.events import DomainEvent, emit

if TYPE_CHECKING:
    from opsbook.runtime import Runtime


def require(actor: Principal, needs: Role) -> None:
    """Refuse (Forbidden) unless `actor` has the role `needs` or a higher one."""
    if not actor.role.allows(needs):
        raise Forbidden(f"this action needs the {needs.value} role; {actor.name} is {actor.role.value}")


@dataclass
class Tx:
    """One use case's transaction: the session, the instant it acts at, and who acts."""

    session: Session
    now: datetime
    actor: Principal

    def audit(self, action: str, target: str = "", **detail: Any) -> None:
        """Record the action in the audit log (opsbook's own actions are in the timelines instead)."""
        if self.actor.source != "system":
            record(self.session, self.now, self.actor, action, target, **detail)

    def emit(self, *events: DomainEvent) -> None:
        emit(self.session, *events)


@contextmanager
def transaction(runtime: Runtime, actor: Principal, needs: Role | None = None) -> Iterator[Tx]:
    """Check the role, then begin; commit on success (events published after), roll back on error."""
    if needs is not None:
        require(actor, needs)
    with runtime.sessions.begin() as session:
        yield Tx(session, runtime.clock.now(), actor)
