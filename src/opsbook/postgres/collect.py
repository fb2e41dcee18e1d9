"""What a database looks like now: one round of catalog queries on a psycopg connection → a snapshot.

The snapshot is a plain JSON-able dict (stored as is for the report's history); `postgres.measures`
turns it into the named values rules and charts use. Each part is one query and is taken only when
asked for (`parts`); seeing other sessions' queries needs a superuser or the `pg_monitor` role.

    {"database": "app", "size_bytes": ..., "max_connections": 300,
     "connections": {"total": 12, "by_state": {"active": 2, "idle": 10}, "by_app": {"api": 8}},
     "long": {"count": 1, "queries": [{"pid", "app", "user", "seconds", "state", "wait", "query"}]},
     "blocked": [{"pid", "seconds", "query", "lock",
                  "blockers": [{"pid", "app", "state", "seconds", "query"}]}],
     "tables": [{"name", "live", "dead", "dead_pct", "bytes", "vacuum_age_s", "analyze_age_s",
                 "seq_scan", "idx_scan", "seq_pct"}],
     "unused_indexes": [{"name", "table", "bytes"}], "duplicate_indexes": [{"table", "index", "covered_by",
     "bytes"}], "cache_hit_pct": 99.2, "xid_age": 1234, "replication": [...],
     "statements": {"queryid": [calls, total_ms, rows, "query"]} or None when not installed}

Query texts are masked (opsbook.postgres.masking) before they leave this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import psycopg

from opsbook.postgres import indexes
from opsbook.postgres.masking import mask_literals

STATEMENTS_KEPT = 500

_CONNECTIONS = """
SELECT coalesce(state, ''), coalesce(application_name, ''), count(*)
FROM pg_stat_activity WHERE backend_type = 'client backend' GROUP BY 1, 2
"""
_LONG = """
SELECT pid, coalesce(application_name, ''), coalesce(usename, ''),
       extract(epoch FROM clock_timestamp() - query_start)::float8, coalesce(state, ''),
       coalesce(wait_event_type, ''), coalesce(query, '')
FROM pg_stat_activity
WHERE state = 'active' AND pid <> pg_backend_pid() AND backend_type = 'client backend'
  AND clock_timestamp() - query_start > make_interval(secs => %s)
ORDER BY query_start
"""
_BLOCKED = """
SELECT pid, coalesce(extract(epoch FROM clock_timestamp() - query_start), 0)::float8, coalesce(query, ''),
       pg_blocking_pids(pid), coalesce(wait_event_type || ':' || wait_event, '')
FROM pg_stat_activity WHERE cardinality(pg_blocking_pids(pid)) > 0
ORDER BY query_start
"""
_BLOCKERS = """
SELECT pid, coalesce(application_name, ''), coalesce(state, ''),
       coalesce(extract(epoch FROM clock_timestamp() - xact_start), 0)::float8, coalesce(query, '')
FROM pg_stat_activity WHERE pid = ANY(%s)
"""
_TABLES = """
SELECT s.schemaname || '.' || s.relname, s.n_live_tup, s.n_dead_tup,
       c.relpages::bigint * current_setting('block_size')::int,
       extract(epoch FROM now() - greatest(s.last_vacuum, s.last_autovacuum))::float8,
       extract(epoch FROM now() - greatest(s.last_analyze, s.last_autoanalyze))::float8,
       coalesce(s.seq_scan, 0), coalesce(s.idx_scan, 0), s.relid
FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
"""
_TABLE_SIZES = "SELECT oid, pg_total_relation_size(oid) FROM pg_class WHERE oid = ANY(%s)"
EXACT_SIZES = 50
"""Tables (the largest by pages, the most bloated) whose size is measured exactly; the others are estimated
from pg_class.relpages (as of their last VACUUM or ANALYZE), as a stat of every file would be slow."""
_UNUSED = """
SELECT s.schemaname || '.' || s.indexrelname, s.schemaname || '.' || s.relname,
       c.relpages::bigint * current_setting('block_size')::int
FROM pg_stat_user_indexes s
JOIN pg_index i ON i.indexrelid = s.indexrelid JOIN pg_class c ON c.oid = s.indexrelid
WHERE s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary
ORDER BY 3 DESC
"""
_INDEXES = """
SELECT n.nspname || '.' || t.relname, n.nspname || '.' || c.relname, i.indkey::text, i.indclass::text,
       coalesce(pg_get_expr(i.indexprs, i.indrelid), ''), coalesce(pg_get_expr(i.indpred, i.indrelid), ''),
       i.indisunique OR i.indisprimary, c.relpages::bigint * current_setting('block_size')::int, am.amname
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace JOIN pg_am am ON am.oid = c.relam
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%%'
"""
_CACHE = """
SELECT blks_hit, blks_read FROM pg_stat_database WHERE datname = current_database()
"""
_WRAPAROUND = "SELECT max(age(datfrozenxid))::bigint FROM pg_database"
_REPLICATION = """
SELECT coalesce(application_name, ''), coalesce(state, ''),
       coalesce(extract(epoch FROM replay_lag), 0)::float8,
       coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), 0)::float8
FROM pg_stat_replication
"""
_REPLICA_LAG = """
SELECT pg_is_in_recovery(),
       coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)::float8
"""
_SIZE = """
SELECT current_database(), pg_database_size(current_database()), current_setting('max_connections')::int
"""
_HAS_STATEMENTS = "SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'"
_STATEMENTS = """
SELECT queryid::text, calls, total_exec_time, rows, query FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND queryid IS NOT NULL
ORDER BY total_exec_time DESC LIMIT %s
"""

Conn = psycopg.AsyncConnection[Any]


_EXTRACT = re.compile(r"extract\(\s*[\w?]+\s+FROM", re.IGNORECASE)


def _shape(sql: str) -> str:
    """A statement's shape: literals, parameters (ours `%s`, pg_stat_statements' `$n`) and the field of
    `extract(epoch FROM ...)` (a constant to pg_stat_statements) all `?`."""
    masked = mask_literals(sql.replace("%%", "%").replace("%s", "$0"), limit=100_000)
    return _EXTRACT.sub("extract(? FROM", re.sub(r"\$\d+", "?", masked))


_OWN = frozenset(_shape(sql) for sql in (
    _CONNECTIONS, _LONG, _BLOCKED, _BLOCKERS, _TABLES, _TABLE_SIZES, _UNUSED, _INDEXES, _CACHE, _WRAPAROUND,
    _REPLICATION, _REPLICA_LAG, _SIZE, _HAS_STATEMENTS, _STATEMENTS,
))
"""opsbook's own catalog queries: left out of the top queries (they are not the application's)."""


async def _rows(conn: Conn, sql: str, params: Iterable[Any] | None = None) -> list[tuple[Any, ...]]:
    async with conn.cursor() as cur:
        await cur.execute(sql, tuple(params) if params is not None else None)
        return list(await cur.fetchall())


async def collect(conn: Conn, parts: Iterable[str], long_query_s: float = 1.0) -> dict[str, Any]:
    """One snapshot of the parts asked for (always: database name, size, max_connections)."""
    wanted = set(parts)
    (name, size, max_conn), = await _rows(conn, _SIZE)
    snap: dict[str, Any] = {"database": name, "size_bytes": int(size), "max_connections": int(max_conn)}
    if "connections" in wanted:
        snap["connections"] = _connections(await _rows(conn, _CONNECTIONS))
    if "long_queries" in wanted:
        snap["long"] = _long(await _rows(conn, _LONG, (long_query_s,)))
    if "locks" in wanted:
        snap["blocked"] = await _blocked(conn)
    if "tables" in wanted:
        snap["tables"] = await _tables(conn)
    if "indexes" in wanted:
        unused = await _rows(conn, _UNUSED)
        snap["unused_indexes"] = [{"name": n, "table": t, "bytes": int(b)} for n, t, b in unused]
        snap["duplicate_indexes"] = indexes.duplicates(
            [indexes.IndexDef(*row) for row in await _rows(conn, _INDEXES)]
        )
    if "cache" in wanted:
        snap["cache_hit_pct"] = _cache(await _rows(conn, _CACHE))
    if "wraparound" in wanted:
        (age,), = await _rows(conn, _WRAPAROUND)
        snap["xid_age"] = int(age or 0)
    if "replication" in wanted:
        snap["replication"] = await _replication(conn)
    if "statements" in wanted:
        snap["statements"] = await statements(conn)
    return snap


def _connections(rows: list[tuple[Any, ...]]) -> dict[str, Any]:
    by_state: dict[str, int] = {}
    by_app: dict[str, int] = {}
    for state, app, count in rows:
        by_state[state or "unknown"] = by_state.get(state or "unknown", 0) + int(count)
        by_app[app or "(none)"] = by_app.get(app or "(none)", 0) + int(count)
    return {"total": sum(by_state.values()), "by_state": by_state, "by_app": by_app}


def _long(rows: list[tuple[Any, ...]]) -> dict[str, Any]:
    queries = [
        {"pid": pid, "app": app, "user": user, "seconds": round(float(secs), 3), "state": state, "wait": wait,
         "query": mask_literals(query)}
        for pid, app, user, secs, state, wait, query in rows
    ]
    queries.sort(key=lambda q: -q["seconds"])
    return {"count": len(queries), "queries": queries[:50]}


async def _blocked(conn: Conn) -> list[dict[str, Any]]:
    rows = await _rows(conn, _BLOCKED)
    pids = sorted({pid for row in rows for pid in row[3]})
    blockers = {
        pid: {"pid": pid, "app": app, "state": state, "seconds": round(float(secs), 3),
              "query": mask_literals(q)}
        for pid, app, state, secs, q in (await _rows(conn, _BLOCKERS, (pids,)) if pids else [])
    }
    return [
        {"pid": pid, "seconds": round(float(secs), 3), "query": mask_literals(query), "lock": lock,
         "blockers": [blockers.get(b, _unknown(b)) for b in by]}
        for pid, secs, query, by, lock in rows
    ]


def _unknown(pid: int) -> dict[str, Any]:
    """A blocker that ended between the two queries."""
    return {"pid": pid, "app": "", "state": "", "seconds": 0, "query": ""}


async def _tables(conn: Conn) -> list[dict[str, Any]]:
    out = []
    oids: dict[str, int] = {}
    for name, live, dead, size, vacuum_age, analyze_age, seq, idx, oid in await _rows(conn, _TABLES):
        live, dead, seq, idx = int(live or 0), int(dead or 0), int(seq), int(idx)
        oids[name] = int(oid)
        out.append({
            "name": name, "live": live, "dead": dead,
            "dead_pct": round(100.0 * dead / (live + dead), 2) if live + dead else 0.0,
            "bytes": int(size), "vacuum_age_s": vacuum_age, "analyze_age_s": analyze_age,
            "seq_scan": seq, "idx_scan": idx,
            "seq_pct": round(100.0 * seq / (seq + idx), 2) if seq + idx else 0.0,
        })
    chosen = {t["name"] for t in sorted(out, key=lambda t: -t["bytes"])[:EXACT_SIZES]}
    chosen |= {t["name"] for t in sorted(out, key=lambda t: -t["dead_pct"])[:EXACT_SIZES]}
    if chosen:
        exact = dict(await _rows(conn, _TABLE_SIZES, ([oids[n] for n in chosen],)))
        for table in out:
            table["bytes"] = int(exact.get(oids[table["name"]], table["bytes"]))
    out.sort(key=lambda t: (-t["bytes"], t["name"]))
    return out


def _cache(rows: list[tuple[Any, ...]]) -> float | None:
    if not rows:
        return None
    hit, read = (int(v or 0) for v in rows[0])
    return round(100.0 * hit / (hit + read), 3) if hit + read else None


async def _replication(conn: Conn) -> dict[str, Any]:
    (recovering, replay_lag), = await _rows(conn, _REPLICA_LAG)
    if recovering:
        return {"role": "replica", "replicas": [], "lag_s": round(float(replay_lag), 3), "lag_bytes": None}
    replicas = [
        {"name": name, "state": state, "lag_s": round(float(lag), 3), "lag_bytes": float(lag_bytes)}
        for name, state, lag, lag_bytes in await _rows(conn, _REPLICATION)
    ]
    return {
        "role": "primary", "replicas": replicas,
        "lag_s": max((r["lag_s"] for r in replicas), default=None),
        "lag_bytes": max((r["lag_bytes"] for r in replicas), default=None),
    }


async def statements(conn: Conn) -> dict[str, list[Any]] | None:
    """The cumulative counters of the database's most expensive statements; None if not installed."""
    if not await _rows(conn, _HAS_STATEMENTS):
        return None
    try:
        rows = await _rows(conn, _STATEMENTS, (STATEMENTS_KEPT,))
    except psycopg.errors.ObjectNotInPrerequisiteState:  # installed but not in shared_preload_libraries
        return None
    return {qid: [int(calls), round(float(total), 3), int(n), mask_literals(query)]
            for qid, calls, total, n, query in rows if _shape(query) not in _OWN}
