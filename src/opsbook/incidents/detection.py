"""When trouble began: the first failed result of a check, from its recorded state changes.

An alert fires after its rule's condition held (three failures in a row, five minutes of slow answers);
the trouble began earlier, with the first result that was not up. A check's state changes
(checks.models.StateChangeRow, kept for `retention.state_changes`) say when: the change into degraded or
down that began the run of not-up states still going on when the alert fired. Time to detect is measured
from there (incidents.linking sets the incident's `detected_at`; the post-mortem shows it per alert).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.checks.models import StateChangeRow

UP = "up"
LOOK_BACK = 200
"""State changes read back from the alert at most: a check flapping between degraded and down longer than
this is counted from the oldest change read."""


def first_failure(session: Session, check_id: str, at: datetime) -> datetime | None:
    """When the check's run of not-up results going on at `at` began; None if it was up at `at` (or no
    state change of it is known, e.g. an alert raised by another tool)."""
    changes = session.execute(
        select(StateChangeRow.ts, StateChangeRow.to_status)
        .where(StateChangeRow.check_id == check_id, StateChangeRow.ts <= at)
        .order_by(StateChangeRow.ts.desc(), StateChangeRow.id.desc())
        .limit(LOOK_BACK)
    ).all()
    began: datetime | None = None
    for ts, status in changes:
        if status == UP:
            break
        began = ts
    return began


def detected_at(session: Session, check_id: str | None, pending_since: datetime | None,
                fired_at: datetime | None) -> datetime | None:
    """The first sign of trouble of an alert: its check's first failed result before it fired, else the
    moment its condition first held (`pending_since`), else when it fired."""
    signs = [t for t in (pending_since, fired_at) if t is not None]
    if check_id is not None and signs:
        failed = first_failure(session, check_id, max(signs))
        if failed is not None:
            signs.append(failed)
    return min(signs) if signs else None
