"""The `postgres` check kind: connect, run a query (default `SELECT 1`), optionally measure the server.

A fresh connection per run (psycopg 3, async), so the latency is connect + query time, honestly. A query
that returns a single number exposes it as `values["value"]` for rules. Built-in measurements
(`measure: [connections, long_queries]`) answer the runbook questions "how many connections are in use
of max_connections?" and "are there queries running for longer than a second?":

- `connections`: `connections_used` (client backends), `connections_max` (max_connections),
  `connections_pct`.
- `long_queries`: `long_queries` (active queries older than `long_query_threshold`, other than the
  check's own) and `longest_query_s`. Seeing other users' queries needs a superuser or the `pg_monitor`
  role.

Failure messages come from libpq, collapsed to one line and redacted: they never contain the password.
"""

from __future__ import annotations

import math
import re
import time
from datetime import timedelta
from decimal import Decimal
from typing import Any, Literal

import psycopg
from psycopg.conninfo import conninfo_to_dict
from pydantic import Field, field_validator

from opsbook.checks.result import CheckResult
from opsbook.checks.spec import CheckSpec, RunContext
from opsbook.config.types import PositiveDuration, format_duration
from opsbook.redact import redact

_DRIVER = re.compile(r"^(postgres(?:ql)?)\+[A-Za-z0-9_]+://")

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


def libpq_dsn(dsn: str) -> str:
    """The DSN as libpq reads it: SQLAlchemy-style `postgresql+psycopg://` loses its driver suffix."""
    return _DRIVER.sub(lambda m: f"{m[1]}://", dsn.strip())


def _parse(dsn: str) -> dict[str, Any]:
    return conninfo_to_dict(libpq_dsn(dsn))


def _one_line(text: str) -> str:
    return " ".join(text.split())


class PostgresCheck(CheckSpec):
    """Connects to PostgreSQL and runs a query; fails if either fails or takes longer than `timeout`."""

    kind: Literal["postgres"]
    dsn: str = Field(
        description="Connection string: a postgresql:// URL (postgresql+psycopg:// is accepted too) or libpq "
        "key=value pairs. Put the password in the environment: `postgresql://app:${PG_PASSWORD}@db/app`."
    )
    query: str = Field(
        default="SELECT 1",
        description="SQL run after connecting (in autocommit mode). If it returns a single numeric value, "
        "that value is recorded as `value` so rules can compare it.",
    )
    measure: list[Literal["connections", "long_queries"]] = Field(
        default_factory=list,
        description="Built-in measurements: `connections` records connections_used, connections_max and "
        "connections_pct; `long_queries` records long_queries (active queries running longer than "
        "long_query_threshold) and longest_query_s.",
    )
    long_query_threshold: PositiveDuration = Field(
        default=timedelta(seconds=1),
        description="A query active for longer than this counts in the `long_queries` measurement.",
    )

    @field_validator("dsn")
    @classmethod
    def _valid_dsn(cls, value: str) -> str:
        try:
            _parse(value)
        except psycopg.Error:
            # libpq's reason can quote a piece of the string (perhaps the password): do not repeat it.
            raise ValueError(
                "not a valid PostgreSQL connection string: use a postgresql://user@host:port/db URL "
                "or libpq key=value pairs"
            ) from None
        return value

    def secrets(self) -> list[str]:
        found: list[str] = []
        try:
            password = _parse(self.dsn).get("password")
        except psycopg.Error:
            password = None
        if password:
            found.append(str(password))
        raw = re.match(r"^[^:]+://[^:/@\s]*:([^@/\s]+)@", libpq_dsn(self.dsn))
        if raw and raw[1] not in found:
            found.append(raw[1])  # as written in the URL, percent-encoding and all
        return found

    def target(self) -> str:
        try:
            params = _parse(self.dsn)
        except psycopg.Error:
            return redact(self.dsn, self.secrets())
        user = params.get("user") or ""
        host = params.get("host") or params.get("hostaddr") or "localhost"
        port = params.get("port") or "5432"
        dbname = params.get("dbname") or user
        who = f"{user}@" if user else ""
        return redact(f"postgresql://{who}{host}:{port}/{dbname}", self.secrets())

    async def run(self, ctx: RunContext) -> CheckResult:
        timeout = self.timeout.total_seconds()
        try:
            return await ctx.clock.wait_for(self._probe(timeout), timeout)
        except TimeoutError:
            return CheckResult.down(
                f"timed out after {format_duration(self.timeout)}: no answer from {self.target()}"
            )
        except psycopg.Error as exc:
            return CheckResult.down(self._explain(exc))
        except OSError as exc:
            return CheckResult.down(redact(f"{self.target()}: {exc}", self.secrets()))

    def _explain(self, exc: psycopg.Error) -> str:
        text = _one_line(str(exc)) or type(exc).__name__
        return redact(text, self.secrets())

    async def _probe(self, timeout: float) -> CheckResult:
        started = time.perf_counter()
        conn = await psycopg.AsyncConnection.connect(
            libpq_dsn(self.dsn),
            autocommit=True,
            connect_timeout=max(2, math.ceil(timeout)),  # libpq's minimum is 2 s; wait_for has the last word
            application_name="opsbook",
        )
        async with conn:
            async with conn.cursor() as cur:
                await cur.execute(self.query)  # the query is the operator's own, from the config
                rows = await cur.fetchall() if cur.description is not None else []
            latency_ms = (time.perf_counter() - started) * 1000
            values: dict[str, float] = {}
            value = _single_number(rows)
            if value is not None:
                values["value"] = value
            if "connections" in self.measure:
                values.update(await self._connections(conn))
            if "long_queries" in self.measure:
                values.update(await self._long_queries(conn))
        return CheckResult.up(latency_ms, _summary(value, values), **values)

    async def _connections(self, conn: psycopg.AsyncConnection[Any]) -> dict[str, float]:
        async with conn.cursor() as cur:
            await cur.execute(_CONNECTIONS_SQL)
            row = await cur.fetchone()
        used, most = (float(row[0]), float(row[1])) if row else (0.0, 0.0)
        pct = round(used / most * 100, 2) if most else 0.0
        return {"connections_used": used, "connections_max": most, "connections_pct": pct}

    async def _long_queries(self, conn: psycopg.AsyncConnection[Any]) -> dict[str, float]:
        async with conn.cursor() as cur:
            await cur.execute(_LONG_QUERIES_SQL, (self.long_query_threshold.total_seconds(),))
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
