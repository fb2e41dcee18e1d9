"""Runs a `postgres` check: a fresh psycopg connection, the query, the built-in measurements.

The measurements are one snapshot (opsbook.postgres.collect) turned into named values
(opsbook.postgres.measures). pg_stat_statements' counters of the previous run of each check are kept
in memory, so `top_query_ms` is the time spent between two runs (none on the first run after a start).
"""

from __future__ import annotations

import math
import time
from decimal import Decimal
from typing import Any

import psycopg

from opsbook.checks.kinds.postgres import PostgresCheck, libpq_dsn
from opsbook.checks.result import CheckResult
from opsbook.checks.spec import RunContext
from opsbook.config.types import format_duration
from opsbook.postgres import measures
from opsbook.postgres.collect import collect
from opsbook.redact import redact

_previous: dict[str, dict[str, Any]] = {}
"""The last snapshot's statement counters of each check (by name and target), for deltas."""


async def probe(check: PostgresCheck, ctx: RunContext) -> CheckResult:
    timeout = check.timeout.total_seconds()
    try:
        return await ctx.clock.wait_for(_query(check, timeout), timeout)
    except TimeoutError:
        return CheckResult.down(
            f"timed out after {format_duration(check.timeout)}: no answer from {check.target()}"
        )
    except psycopg.Error as exc:
        return CheckResult.down(redact(" ".join(str(exc).split()) or type(exc).__name__, check.secrets()))
    except OSError as exc:
        return CheckResult.down(redact(f"{check.target()}: {exc}", check.secrets()))


async def _query(check: PostgresCheck, timeout: float) -> CheckResult:
    started = time.perf_counter()
    conn = await psycopg.AsyncConnection.connect(
        libpq_dsn(check.dsn),
        autocommit=True,
        connect_timeout=max(2, math.ceil(timeout)),  # libpq's minimum is 2 s; wait_for has the last word
        application_name="opsbook",
    )
    async with conn:
        async with conn.cursor() as cur:
            await cur.execute(check.query)  # the query is the operator's own, from the config
            rows = await cur.fetchall() if cur.description is not None else []
        latency_ms = (time.perf_counter() - started) * 1000
        values: dict[str, float] = {}
        value = _single_number(rows)
        if value is not None:
            values["value"] = value
        found = ""
        parts = check.measures()
        if parts:
            snap = await collect(conn, parts, check.long_query_threshold.total_seconds())
            key = f"{check.name}@{check.target()}"
            measured = measures.values(snap, check.tables_top, check.seq_scan_min_rows, _previous.get(key))
            if snap.get("statements") is not None:
                _previous[key] = {"statements": snap["statements"]}
            values.update(measured)
            found = measures.summary(snap, measured)
    return CheckResult.up(latency_ms, _summary(value, found), **values)


def _single_number(rows: list[Any]) -> float | None:
    """The value of a one-row, one-column numeric result; None for anything else."""
    if len(rows) != 1 or len(rows[0]) != 1:
        return None
    cell = rows[0][0]
    if isinstance(cell, bool) or not isinstance(cell, int | float | Decimal):
        return None
    number = float(cell)
    return number if math.isfinite(number) else None


def _summary(value: float | None, found: str) -> str:
    parts = [] if value is None else [f"value {value:g}"]
    if found:
        parts.append(found)
    return "; ".join(parts) or "query ok"
