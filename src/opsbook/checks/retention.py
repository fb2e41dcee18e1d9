"""Pruning: keeps storage per check bounded however long opsbook runs.

Raw results are deleted after `retention.raw` but never before they are rolled up, by whole hours (a
raw row may take its message from the hour's first row: `checks.store`); minute and hour rollups are
deleted by whole chunks (an hour of minutes, a day of hours) once the chunk is entirely older than
their retention; the state-change log has its own, longer window. The newest state change of each
check before the cutoff is kept, so the state at any retained instant is still known.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from opsbook.checks import compact, keys
from opsbook.checks.models import ResultRow, RollupRow, StateChangeRow
from opsbook.checks.rollup import HOUR, MINUTE, floor, get_watermark
from opsbook.config.schema import Retention


@dataclass
class Pruned:
    raw: int = 0
    minute_rollups: int = 0  # chunk rows (an hour of minutes each)
    hour_rollups: int = 0  # chunk rows (a day of hours each)
    state_changes: int = 0


def _count(result: Any) -> int:
    return int(result.rowcount or 0)


def prune(session: Session, retention: Retention, now: datetime) -> Pruned:
    out = Pruned()
    watermark = get_watermark(session)
    if watermark is not None:  # nothing is deleted raw that the rollups have not taken in
        raw_cutoff = compact.to_us(floor(min(now - retention.raw, watermark), HOUR))
        out.raw = _count(
            session.execute(
                delete(ResultRow)
                .where(ResultRow.check_key.in_(keys.all_keys()), ResultRow.ts < raw_cutoff)
                .execution_options(synchronize_session=False)
            )
        )
    for resolution, keep in ((MINUTE, retention.minute_rollups), (HOUR, retention.hour_rollups)):
        span = compact.CHUNK_OF[resolution]
        cutoff_chunk = compact.to_s(now - keep) - span  # chunks that end before the cutoff
        pruned = _count(
            session.execute(
                delete(RollupRow).where(
                    RollupRow.check_key.in_(keys.all_keys()),
                    RollupRow.resolution == resolution,
                    RollupRow.chunk < cutoff_chunk,
                )
                .execution_options(synchronize_session=False)
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
