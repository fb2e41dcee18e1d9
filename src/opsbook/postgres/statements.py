"""Top queries over a window: the differences of pg_stat_statements' cumulative counters between two
stored samples, not the totals since the last reset. Pure.

A statement missing from the older sample started being counted within the window (its whole count is
the window's); one whose counters went down was reset (its newer count is the window's).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Sample = Mapping[str, Sequence[Any]]
"""queryid → [calls, total_ms, rows, masked query], as opsbook.postgres.collect.statements returns."""


@dataclass(frozen=True)
class QueryDelta:
    queryid: str
    query: str
    calls: int
    total_ms: float
    rows: int

    @property
    def mean_ms(self) -> float:
        return self.total_ms / self.calls if self.calls else 0.0


def deltas(older: Sample | None, newer: Sample) -> list[QueryDelta]:
    """Every statement that ran between the samples, most total time first."""
    out: list[QueryDelta] = []
    for qid, (calls, total, rows, query) in newer.items():
        before = (older or {}).get(qid)
        d_calls, d_total, d_rows = int(calls), float(total), int(rows)
        if before is not None and int(before[0]) <= d_calls and float(before[1]) <= d_total:
            d_calls -= int(before[0])
            d_total -= float(before[1])
            d_rows -= int(before[2])
        if d_calls > 0:
            out.append(QueryDelta(qid, str(query), d_calls, round(d_total, 3), max(0, d_rows)))
    out.sort(key=lambda q: (-q.total_ms, q.queryid))
    return out


def share(top: Sequence[QueryDelta]) -> float:
    """The first query's share of all the time in `top`, in percent (0 when nothing ran)."""
    total = sum(q.total_ms for q in top)
    return round(100.0 * top[0].total_ms / total, 2) if top and total > 0 else 0.0
