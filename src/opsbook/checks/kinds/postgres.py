"""The `postgres` check kind: connect, run a query (default `SELECT 1`), optionally measure the server.

A fresh connection per run (psycopg 3, async), so the latency is connect + query time, honestly. A query
that returns a single number exposes it as `values["value"]` for rules. Built-in measurements answer
the runbooks' database questions, each as named values (the list is in opsbook.postgres.measures):

- `connections`: `connections_used` (client backends), `connections_max`, `connections_pct`, and by
  state and application (`connections_state:active`, `connections_app:api`).
- `long_queries`: `long_queries` (active queries older than `long_query_threshold`, other than the
  check's own) and `longest_query_s`; the message shows the longest one's text with literals masked.
- `locks`: `blocked_queries`, `blocking_sessions`, `longest_blocked_s`.
- `tables`: per table `dead_pct:`, `vacuum_age_h:`, `analyze_age_h:`, `table_bytes:` (the `tables_top`
  largest), `max_dead_pct`, `seq_scan_tables` (tables read mostly by sequential scans).
- `indexes`: `unused_indexes`, `unused_index_bytes`, `duplicate_indexes`.
- `cache`: `cache_hit_pct`; `wraparound`: `xid_age`, `xid_wraparound_pct`; `size`: `database_bytes`;
  `replication`: `replicas`, `replication_lag_s`, `replication_lag_bytes`.
- `statements` (pg_stat_statements): `statements_ms`, `top_query_ms`, `top_query_share_pct`, between
  this run and the previous one.

Seeing other users' queries needs a superuser or the `pg_monitor` role. `opsbook pg report` shows the
same measurements as tables (opsbook.postgres).

Failure messages come from libpq, collapsed to one line and redacted: they never contain the password.
The probe that runs it is `probes/postgres.py`; the DSN is read here without libpq (`conninfo.py`).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

from pydantic import Field, field_validator

from opsbook.checks.kinds.conninfo import parse_conninfo
from opsbook.checks.spec import CheckSpec
from opsbook.config.types import PositiveDuration
from opsbook.redact import redact

Measure = Literal[
    "connections", "long_queries", "locks", "tables", "indexes", "cache", "wraparound", "replication", "size",
    "statements", "all",
]
ALL_MEASURES = ("connections", "long_queries", "locks", "tables", "indexes", "cache", "wraparound",
                "replication", "size", "statements")

_DRIVER = re.compile(r"^(postgres(?:ql)?)\+[A-Za-z0-9_]+://")


def libpq_dsn(dsn: str) -> str:
    """The DSN as libpq reads it: SQLAlchemy-style `postgresql+psycopg://` loses its driver suffix."""
    return _DRIVER.sub(lambda m: f"{m[1]}://", dsn.strip())


def _parse(dsn: str) -> dict[str, str]:
    return parse_conninfo(libpq_dsn(dsn))


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
    measure: list[Measure] = Field(
        default_factory=list,
        description="Built-in measurements: connections, long_queries, locks, tables, indexes, cache, "
        "wraparound, replication, size, statements (pg_stat_statements), or all; each records named "
        "values (connections_pct, long_queries, blocked_queries, dead_pct:TABLE, duplicate_indexes, "
        "cache_hit_pct, xid_age, replication_lag_s, top_query_ms ...).",
    )
    tables_top: int = Field(
        default=10, ge=0, le=200, description="Per-table values are recorded for this many largest tables."
    )
    seq_scan_min_rows: int = Field(
        default=10_000, ge=0, description="A table this big read mostly by sequential scans is flagged."
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
        except ValueError as exc:
            # The reason names no value: the string may hold a password.
            raise ValueError(
                f"not a valid PostgreSQL connection string ({exc}): use a postgresql://user@host:port/db "
                "URL or libpq key=value pairs"
            ) from None
        return value

    def measures(self) -> list[str]:
        """The measurements to take, `all` expanded."""
        return list(ALL_MEASURES) if "all" in self.measure else list(dict.fromkeys(self.measure))

    def secrets(self) -> list[str]:
        found: list[str] = []
        try:
            password = _parse(self.dsn).get("password")
        except ValueError:
            password = None
        if password:
            found.append(password)
        raw = re.match(r"^[^:]+://[^:/@\s]*:([^@/\s]+)@", libpq_dsn(self.dsn))
        if raw and raw[1] not in found:
            found.append(raw[1])  # as written in the URL, percent-encoding and all
        return found

    def target(self) -> str:
        try:
            params = _parse(self.dsn)
        except ValueError:
            return redact(self.dsn, self.secrets())
        user = params.get("user") or ""
        host = params.get("host") or params.get("hostaddr") or "localhost"
        port = params.get("port") or "5432"
        dbname = params.get("dbname") or user
        who = f"{user}@" if user else ""
        return redact(f"postgresql://{who}{host}:{port}/{dbname}", self.secrets())
