"""A dependency's held firing is announced when its hold ends (its page then counts the services it
affects). A dependent that stays down after its dependency recovered pages on its own, once the grace
(`dependencies.grace`) has passed since the recovery: its mark is lifted, it leaves the root cause's
incident, and it is announced as a fresh `fired` transition (the pipeline's hooks open its own incident).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from opsbook.alerts.changes import transition_of
from opsbook.alerts.models import AlertRow
from opsbook.alerts.types import AlertTransition, TransitionKind
from opsbook.config.schema import OpsbookConfig
from opsbook.dependencies.causes import CAUSED, HELD, cause_of, down_nodes, held_until
from opsbook.incidents.linking import detach


def release_due(
    session: Session, config: OpsbookConfig, now: datetime
) -> tuple[list[AlertTransition], datetime | None]:
    """Caused alerts whose root recovered at least the grace ago: unmarked, detached from the root's
    incident, returned as `fired` transitions; and when the next one falls due (None: none waits)."""
    out, next_at = _held_due(session, now)
    caused = session.scalars(
        select(AlertRow).where(AlertRow.state == "firing", AlertRow.silenced_by.startswith(CAUSED))
        .order_by(AlertRow.id)
    ).all()
    if not caused:
        return out, next_at
    down = down_nodes(session)
    for row in caused:
        root = cause_of(row.silenced_by) or ""
        if root in down:
            continue
        due = _recovered_at(session, root, row) + config.dependencies.grace
        if due > now:
            next_at = due if next_at is None else min(next_at, due)
            continue
        row.silenced, row.silenced_by = False, None
        minutes = int(config.dependencies.grace.total_seconds() // 60)
        detach(session, config, row.id, now,
               f"{row.check_id or row.service} still down {minutes} min after {root} recovered: "
               "it pages on its own")
        out.append(transition_of(row, TransitionKind.FIRED, now))
    return out, next_at


def _held_due(session: Session, now: datetime) -> tuple[list[AlertTransition], datetime | None]:
    """Held firings whose hold ended: unmarked and returned as `fired` (their page counts the affected)."""
    out: list[AlertTransition] = []
    next_at: datetime | None = None
    for row in session.scalars(select(AlertRow).where(
            AlertRow.state == "firing", AlertRow.silenced_by.startswith(HELD)).order_by(AlertRow.id)):
        until = held_until(row.silenced_by)
        if until is not None and until > now:
            next_at = until if next_at is None else min(next_at, until)
            continue
        row.silenced, row.silenced_by = False, None
        out.append(transition_of(row, TransitionKind.FIRED, now))
    return out, next_at


def _recovered_at(session: Session, root: str, row: AlertRow) -> datetime:
    """When the root's last alert resolved, or when `row` fired if that is later (a root that never
    fired an alert, or recovered before)."""
    last = session.scalar(
        select(func.max(AlertRow.resolved_at)).where(or_(AlertRow.service == root, AlertRow.check_id == root))
    )
    fired = row.fired_at or row.created_at
    return max(last, fired) if last is not None else fired
