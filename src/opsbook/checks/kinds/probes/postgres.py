"""Runs a `postgres` check: a fresh psycopg connection, the query, the built-in measurements."""

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
from opsbook.redact import redact

_CONNECTIONS_SQL = """
SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'),
       current_setting('max_connections')::int
"""
_LONG_QUERIES_SQL = """
SELECT count(*), coalesce(max(extract(epoch FROM clock_timestamp() - query_start)), 0)
FROM pg_stat_activity
WHERE state = 'active' AND pid <> pg_backend_pid() AND backend_type = 'client backend'
  AND clock_timestamp() - query_start > make_interval(secs => %s)
"""


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
        if "connections" in check.measure:
            values.update(await _connections(conn))
        if "long_queries" in check.measure:
            values.update(await _long_queries(conn, check))
    return CheckResult.up(latency_ms, _summary(value, values), **values)


async def _connections(conn: psycopg.AsyncConnection[Any]) -> dict[str, float]:
    async with conn.cursor() as cur:
        await cur.execute(_CONNECTIONS_SQL)
        row = await cur.fetchone()
    used, most = (float(row[0]), float(row[1])) if row else (0.0, 0.0)
    pct = round(used / most * 100, 2) if most else 0.0
    return {"connections_used": used, "connections_max": most, "connections_pct": pct}


async def _long_queries(conn: psycopg.AsyncConnection[Any], check: PostgresCheck) -> dict[str, float]:
    async with conn.cursor() as cur:
        await cur.execute(_LONG_QUERIES_SQL, (check.long_query_threshold.total_seconds(),))
        row = await cur.fetchone()
    count, longest = (float(row[0]), float(row[1])) if row else (0.0, 0.0)
    return {"long_queries": count, "longest_query_s": round(longest, 3)}


def _single_number(rows: list[Any]) -> float | None:
    """The value of a one-row, one-column numeric result; None for anything else."""
    if len(rows) != 1 or len(rows[0]) != 1:
        return None
    cell = rows[0][0]
    if isinstance(cell, bool) or not isinstance(cell, int | float | Decimal):
        return None
    number = float(cell)
    return number if math.isfinite(number) else None


def _summary(value: float | None, values: dict[str, float]) -> str:
    parts = [] if value is None else [f"value {value:g}"]
    if "connections_used" in values:
        parts.append(
            f"{values['connections_used']:g} of {values['connections_max']:g} connections in use "
            f"({values['connections_pct']:g}%)"
        )
    if "long_queries" in values:
        parts.append(f"{values['long_queries']:g} long-running queries")
    return "; ".join(parts) or "query ok"
