"""Pruning: keeps storage per check bounded however long opsbook runs.

Raw results are deleted after `retention.raw` but never before they are rolled up; minute and hour
rollups and the state-change log have their own, longer windows. The newest state change of each
check before the cutoff is kept, so the state at any retained instant is still known.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from opsbook.checks.models import ResultRow, RollupRow, StateChangeRow
from opsbook.checks.rollup import HOUR, MINUTE, get_watermark
from opsbook.config.schema import Retention


@dataclass
class Pruned:
    raw: int = 0
    minute_rollups: int = 0
    hour_rollups: int = 0
    state_changes: int = 0


def _count(result: Any) -> int:
    return int(result.rowcount or 0)


def prune(session: Session, retention: Retention, now: datetime) -> Pruned:
    out = Pruned()
    watermark = get_watermark(session)
    if watermark is not None:  # nothing is deleted raw that the rollups have not taken in
        raw_cutoff = min(now - retention.raw, watermark)
        out.raw = _count(session.execute(delete(ResultRow).where(ResultRow.ts < raw_cutoff)))
    for resolution, keep in ((MINUTE, retention.minute_rollups), (HOUR, retention.hour_rollups)):
        pruned = _count(
            session.execute(
                delete(RollupRow).where(RollupRow.resolution == resolution, RollupRow.bucket < now - keep)
            )
        )
        if resolution == MINUTE:
            out.minute_rollups = pruned
        else:
            out.hour_rollups = pruned
    cutoff = now - retention.state_changes
    newest_before = (
        select(func.max(StateChangeRow.id))
        .where(StateChangeRow.ts < cutoff)
        .group_by(StateChangeRow.check_id)
    )
    out.state_changes = _count(
        session.execute(
            delete(StateChangeRow).where(StateChangeRow.ts < cutoff, StateChangeRow.id.not_in(newest_before))
        )
    )
    return out
