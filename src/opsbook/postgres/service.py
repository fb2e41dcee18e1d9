"""Database care use cases: the report of a database (live, with growth from stored samples), the top
queries over a window, and the pipeline's sampling duty.

A "database" is a `postgres` check that measures something (`measure:`), named `service/check` (or by
its check name or service name when that is unambiguous; with one such check, by nothing at all).
Reading needs the viewer role. Live data comes from a fresh connection with a statement timeout;
the samples the pipeline stores every `postgres.sample_every` give history, growth and the windows of
`pg_stat_statements` deltas.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from opsbook.auth.roles import Principal, Role
from opsbook.checks.kinds.postgres import ALL_MEASURES, PostgresCheck, libpq_dsn
from opsbook.errors import Invalid, NotFound
from opsbook.postgres import measures
from opsbook.postgres.models import SnapshotRow
from opsbook.postgres.statements import QueryDelta, deltas
from opsbook.redact import redact
from opsbook.runtime import Runtime
from opsbook.timefmt import show_time
from opsbook.usecase import require, transaction

GROWTH_SPANS = (timedelta(days=1), timedelta(days=7))


class DatabaseNotFound(NotFound):
    pass


class DatabaseUnreachable(Invalid):
    """The database did not answer (the message is redacted)."""


@dataclass(frozen=True)
class Report:
    check_id: str
    target: str
    at: datetime
    snapshot: dict[str, Any]
    values: dict[str, float]
    growth: dict[str, float | None]  # "1d" / "7d" → bytes gained over that span (None: no sample then)
    queries: QueriesWindow
    seq_scan_min_rows: int


@dataclass(frozen=True)
class QueriesWindow:
    start: datetime | None  # the stored sample the window starts at (None: none old enough)
    end: datetime
    queries: list[QueryDelta]
    note: str = ""


# --- which database --------------------------------------------------------------------------------


def databases(runtime: Runtime) -> dict[str, PostgresCheck]:
    """Every enabled postgres check that measures something, by check id."""
    return {
        cid: spec for cid, spec in runtime.config.checks().items()
        if isinstance(spec, PostgresCheck) and spec.enabled and spec.measures()
    }


def find_database(runtime: Runtime, name: str | None) -> tuple[str, PostgresCheck]:
    known = databases(runtime)
    if not known:
        raise DatabaseNotFound("no postgres check measures anything: add `measure: [all]` to one")
    if name is None:
        if len(known) == 1:
            return next(iter(known.items()))
        raise Invalid(f"say which database: {', '.join(sorted(known))}")
    matches = [cid for cid in known if name in (cid, cid.split("/")[1], cid.split("/")[0])]
    if len(matches) != 1:
        what = "is ambiguous" if matches else "is not a measuring postgres check"
        raise DatabaseNotFound(f"{name!r} {what}; databases: {', '.join(sorted(known))}")
    return matches[0], known[matches[0]]


# --- live data -------------------------------------------------------------------------------------


async def _snapshot(spec: PostgresCheck) -> dict[str, Any]:
    import psycopg  # loaded when a database is looked at, not by every `serve` (bench/footprint.py)

    from opsbook.postgres.collect import collect

    timeout = spec.timeout.total_seconds()
    conn = await psycopg.AsyncConnection.connect(
        libpq_dsn(spec.dsn), autocommit=True, connect_timeout=max(2, math.ceil(timeout)),
        application_name="opsbook", options=f"-c statement_timeout={int(timeout * 1000)}",
    )
    async with conn:
        return await collect(conn, ALL_MEASURES, spec.long_query_threshold.total_seconds())


def live_snapshot(spec: PostgresCheck) -> dict[str, Any]:
    """Every measurement of the database now (blocking: run it in a thread from async code)."""
    import psycopg

    try:
        return asyncio.run(_snapshot(spec))
    except (psycopg.Error, OSError) as exc:
        message = redact(" ".join(str(exc).split()) or type(exc).__name__, spec.secrets())
        raise DatabaseUnreachable(f"{spec.target()}: {message}") from None


# --- use cases ---------------------------------------------------------------------------------------


def report(
    runtime: Runtime, actor: Principal, name: str | None, window: timedelta = timedelta(hours=1)
) -> Report:
    """The database's report now: every measurement, growth (the database's, and each table's as
    `growth_1d` / `growth_7d`), top queries of the last `window`."""
    require(actor, Role.VIEWER)
    check_id, spec = find_database(runtime, name)
    snap = live_snapshot(spec)
    now = runtime.clock.now()
    with runtime.sessions() as session:
        growth = {f"{span.days}d": _growth(session, check_id, snap, now - span, f"{span.days}d")
                  for span in GROWTH_SPANS}
        queries = _window(session, check_id, snap.get("statements"), now, window, runtime.config.timezone)
    vals = measures.values(snap, spec.tables_top, spec.seq_scan_min_rows)
    return Report(check_id, spec.target(), now, snap, vals, growth, queries, spec.seq_scan_min_rows)


def top_queries(runtime: Runtime, actor: Principal, name: str | None, since: timedelta) -> QueriesWindow:
    """The statements that took the most time in the last `since` (deltas of stored samples and now)."""
    require(actor, Role.VIEWER)
    check_id, spec = find_database(runtime, name)
    snap = live_snapshot(spec)
    with runtime.sessions() as session:
        return _window(session, check_id, snap.get("statements"), runtime.clock.now(), since,
                       runtime.config.timezone)


def stored_history(runtime: Runtime, actor: Principal, name: str | None, since: timedelta
                   ) -> tuple[str, PostgresCheck, list[tuple[datetime, dict[str, float]]]]:
    """The stored samples' values of the last `since`, oldest first (no live connection)."""
    with transaction(runtime, actor, needs=Role.VIEWER) as tx:
        check_id, spec = find_database(runtime, name)
        return check_id, spec, _history(tx.session, check_id, spec, tx.now - since)


def _history(session: Session, check_id: str, spec: PostgresCheck, since: datetime
             ) -> list[tuple[datetime, dict[str, float]]]:
    rows = session.scalars(
        select(SnapshotRow)
        .where(SnapshotRow.check_id == check_id, SnapshotRow.ts >= since)
        .order_by(SnapshotRow.ts)
    )
    return [(row.ts, measures.values(row.data, spec.tables_top, spec.seq_scan_min_rows)) for row in rows]


def _sample_at(session: Session, check_id: str, at: datetime) -> SnapshotRow | None:
    """The newest stored sample at or before `at`."""
    return session.scalars(
        select(SnapshotRow).where(SnapshotRow.check_id == check_id, SnapshotRow.ts <= at)
        .order_by(SnapshotRow.ts.desc()).limit(1)
    ).first()


def _growth(session: Session, check_id: str, snap: dict[str, Any], at: datetime, label: str) -> float | None:
    """Bytes the database gained since the sample at `at` (None without one within 12 h of it); each
    table's gain is set on it as `growth_<label>`."""
    old = _sample_at(session, check_id, at)
    if old is None or at - old.ts > timedelta(hours=12):
        return None
    before = {t["name"]: int(t["bytes"]) for t in old.data.get("tables", [])}
    for table in snap.get("tables", []):
        if table["name"] in before:
            table[f"growth_{label}"] = int(table["bytes"]) - before[table["name"]]
    return float(snap["size_bytes"] - int(old.data.get("size_bytes", 0)))


def _window(session: Session, check_id: str, now_statements: dict[str, Any] | None, now: datetime,
            since: timedelta, zone: str) -> QueriesWindow:
    """The statements' deltas since the stored sample `since` ago, or a note (times in the team's `zone`)."""
    if now_statements is None:
        return QueriesWindow(None, now, [], "pg_stat_statements is not installed in this database "
                             "(CREATE EXTENSION pg_stat_statements; it needs shared_preload_libraries)")
    start = _sample_at(session, check_id, now - since)
    if start is None or not start.statements:
        oldest = session.scalars(
            select(SnapshotRow.ts).where(SnapshotRow.check_id == check_id).order_by(SnapshotRow.ts).limit(1)
        ).first()
        note = ("no stored sample is that old yet (samples are stored by `opsbook serve` every "
                "postgres.sample_every"
                + (f"; the oldest is from {show_time(oldest, zone)}" if oldest else "") + ")")
        return QueriesWindow(None, now, [], note)
    return QueriesWindow(start.ts, now, deltas(start.statements, now_statements))


# --- the pipeline's duty ---------------------------------------------------------------------------------


def store_sample(runtime: Runtime, check_id: str, spec: PostgresCheck) -> SnapshotRow:
    """Take a snapshot of the database and store it; prune what `postgres.keep` no longer keeps."""
    snap = live_snapshot(spec)
    statements = snap.pop("statements", None) or {}
    with runtime.sessions.begin() as session:
        now = runtime.clock.now()
        row = SnapshotRow(check_id=check_id, ts=now, data=snap, statements=statements)
        session.add(row)
        session.execute(delete(SnapshotRow).where(SnapshotRow.ts < now - runtime.config.postgres.keep))
        return row
