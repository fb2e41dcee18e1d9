"""A snapshot's named values for rules and charts, and its one-line summary. Pure.

    connections_used, connections_max, connections_pct,
    connections_state:<state> (active, idle, idle in transaction, ...), connections_app:<application>
    long_queries, longest_query_s
    blocked_queries, blocking_sessions, longest_blocked_s
    dead_pct:<schema.table>, vacuum_age_h:<schema.table>, analyze_age_h:<schema.table>,
    table_bytes:<schema.table> (the `tables_top` largest tables), max_dead_pct, seq_scan_tables
    unused_indexes, unused_index_bytes, duplicate_indexes
    cache_hit_pct, xid_age, xid_wraparound_pct, database_bytes
    replicas, replication_lag_s, replication_lag_bytes
    statements_ms, top_query_ms, top_query_share_pct (between two runs of the check)

A table is seq-scan heavy (a missing-index hint) when it has at least `seq_scan_min_rows` live rows and
more than half of its scans are sequential.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opsbook.postgres.statements import deltas, share

WRAPAROUND = 2**31
APPS_KEPT = 10
HOUR = 3600.0


def seq_heavy(table: Mapping[str, Any], min_rows: int) -> bool:
    return int(table["live"]) >= min_rows and float(table["seq_pct"]) > 50 and int(table["seq_scan"]) > 0


def values(snap: Mapping[str, Any], tables_top: int = 10, seq_scan_min_rows: int = 10_000,
           previous: Mapping[str, Any] | None = None) -> dict[str, float]:
    out: dict[str, float] = {"database_bytes": float(snap["size_bytes"])}
    _connections(out, snap)
    if "long" in snap:
        long = snap["long"]
        out["long_queries"] = float(long["count"])
        out["longest_query_s"] = max((q["seconds"] for q in long["queries"]), default=0.0)
    if "blocked" in snap:
        blocked = snap["blocked"]
        out["blocked_queries"] = float(len(blocked))
        out["blocking_sessions"] = float(len({b["pid"] for q in blocked for b in q["blockers"]}))
        out["longest_blocked_s"] = max((q["seconds"] for q in blocked), default=0.0)
    if "tables" in snap:
        _tables(out, snap["tables"], tables_top, seq_scan_min_rows)
    if "unused_indexes" in snap:
        out["unused_indexes"] = float(len(snap["unused_indexes"]))
        out["unused_index_bytes"] = float(sum(i["bytes"] for i in snap["unused_indexes"]))
        out["duplicate_indexes"] = float(len(snap["duplicate_indexes"]))
    if snap.get("cache_hit_pct") is not None:
        out["cache_hit_pct"] = float(snap["cache_hit_pct"])
    if "xid_age" in snap:
        out["xid_age"] = float(snap["xid_age"])
        out["xid_wraparound_pct"] = round(100.0 * snap["xid_age"] / WRAPAROUND, 3)
    if "replication" in snap:
        _replication(out, snap["replication"])
    if snap.get("statements") is not None and previous is not None and previous.get("statements") is not None:
        top = deltas(previous["statements"], snap["statements"])
        out["statements_ms"] = round(sum(q.total_ms for q in top), 3)
        out["top_query_ms"] = top[0].total_ms if top else 0.0
        out["top_query_share_pct"] = share(top)
    return out


def _connections(out: dict[str, float], snap: Mapping[str, Any]) -> None:
    if "connections" not in snap:
        return
    conn = snap["connections"]
    most = float(snap["max_connections"])
    out["connections_used"] = float(conn["total"])
    out["connections_max"] = most
    out["connections_pct"] = round(conn["total"] / most * 100, 2) if most else 0.0
    for state, count in conn["by_state"].items():
        out[f"connections_state:{state}"] = float(count)
    apps = sorted(conn["by_app"].items(), key=lambda kv: (-kv[1], kv[0]))[:APPS_KEPT]
    for app, count in apps:
        out[f"connections_app:{app}"] = float(count)


def _tables(out: dict[str, float], tables: list[Mapping[str, Any]], top: int, min_rows: int) -> None:
    out["max_dead_pct"] = max((float(t["dead_pct"]) for t in tables), default=0.0)
    out["seq_scan_tables"] = float(sum(1 for t in tables if seq_heavy(t, min_rows)))
    for table in tables[:top]:
        name = table["name"]
        out[f"dead_pct:{name}"] = float(table["dead_pct"])
        out[f"table_bytes:{name}"] = float(table["bytes"])
        if table["vacuum_age_s"] is not None:
            out[f"vacuum_age_h:{name}"] = round(table["vacuum_age_s"] / HOUR, 2)
        if table["analyze_age_s"] is not None:
            out[f"analyze_age_h:{name}"] = round(table["analyze_age_s"] / HOUR, 2)


def _replication(out: dict[str, float], rep: Mapping[str, Any]) -> None:
    out["replicas"] = float(len(rep["replicas"]))
    if rep["lag_s"] is not None:
        out["replication_lag_s"] = float(rep["lag_s"])
    if rep["lag_bytes"] is not None:
        out["replication_lag_bytes"] = float(rep["lag_bytes"])


def summary(snap: Mapping[str, Any], vals: Mapping[str, float]) -> str:
    """One line for the check's message: the findings that matter at 3 a.m."""
    parts: list[str] = []
    if "connections_used" in vals:
        parts.append(f"{vals['connections_used']:g} of {vals['connections_max']:g} connections in use "
                     f"({vals['connections_pct']:g}%)")
    if "long_queries" in vals:
        longest = snap["long"]["queries"][:1]
        detail = f", longest {longest[0]['seconds']:.0f}s: {longest[0]['query'][:120]}" if longest else ""
        parts.append(f"{vals['long_queries']:g} long-running queries{detail}")
    if vals.get("blocked_queries"):
        parts.append(f"{vals['blocked_queries']:g} blocked by {vals['blocking_sessions']:g} sessions")
    if vals.get("duplicate_indexes") or vals.get("unused_indexes"):
        parts.append(f"{vals.get('unused_indexes', 0):g} unused and {vals.get('duplicate_indexes', 0):g} "
                     "duplicate indexes")
    if "max_dead_pct" in vals:
        parts.append(f"dead tuples up to {vals['max_dead_pct']:g}%")
    return "; ".join(parts)
