"""`opsbook pg report [DATABASE]`, `opsbook pg queries --since 1h`, `opsbook pg maintain [--dry-run]`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from opsbook.auth.roles import Role
from opsbook.cli.common import ConfigOption, cli_actor, cli_errors, console, parse_length, runtime_or_exit
from opsbook.postgres import measures, upkeep
from opsbook.postgres.hooks import standalone_hooks
from opsbook.postgres.service import QueriesWindow, Report, report, top_queries
from opsbook.timefmt import show_span, show_time
from opsbook.usecase import require

app = typer.Typer(
    help="PostgreSQL: the report, top queries over a window, maintenance.", no_args_is_help=True
)

Database = Annotated[
    str | None, typer.Argument(help="service/check of a measuring postgres check (optional if only one).")
]
TOP = 10


@app.command("report")
def report_command(database: Database = None, config: ConfigOption = None,
                   window: Annotated[str, typer.Option(help="Top queries over this window.")] = "1h") -> None:
    """Everything the postgres check measures, as tables: connections, long and blocked queries, tables,
    indexes, cache hit ratio, wraparound, replication, growth and the top queries of the window."""
    runtime = runtime_or_exit(config, create=False)
    span = parse_length(window, "--window")
    with cli_errors(runtime):
        found = report(runtime, cli_actor(), database, span)
    zone = runtime.config.timezone
    console.print(f"[bold]{escape(found.check_id)}[/] {escape(found.target)} at {show_time(found.at, zone)}")
    console.print(_overview(found))
    for table in (_connections(found), _long(found), _blocked(found), _tables(found), _indexes(found)):
        if table is not None:
            console.print(table)
    console.print(_queries_table(found.queries, zone))


@app.command("queries")
def queries_command(database: Database = None, config: ConfigOption = None,
                    since: Annotated[str, typer.Option(help="The window: 1h, 30m, 1d ...")] = "1h") -> None:
    """The statements that took the most time over the window (pg_stat_statements deltas)."""
    runtime = runtime_or_exit(config, create=False)
    span = parse_length(since, "--since")
    with cli_errors(runtime):
        window = top_queries(runtime, cli_actor(), database, span)
    console.print(_queries_table(window, runtime.config.timezone))


def _mb(value: float | None) -> str:
    if value is None:
        return "–"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(value) >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value:.0f} B"


def _age(seconds: float | None) -> str:
    return "never" if seconds is None else show_span(seconds)


def _overview(found: Report) -> Table:
    v, snap = found.values, found.snapshot
    table = Table("measure", "value", title="Overview", title_justify="left")
    rep = snap.get("replication", {})
    lag = "no replicas" if rep.get("role") == "primary" and not rep.get("replicas") else \
        f"{rep.get('lag_s') or 0:.1f} s behind"
    growth = ", ".join(
        f"{_mb(g) if g is not None else 'no sample'} in {span}" for span, g in found.growth.items()
    )
    rows: list[tuple[str, str]] = [
        ("size", f"{_mb(snap['size_bytes'])} ({growth})"),
        ("connections", f"{v['connections_used']:g} of {v['connections_max']:g} ({v['connections_pct']:g}%)"),
        ("long-running queries", f"{v['long_queries']:g} (longest {v['longest_query_s']:.1f} s)"),
        ("blocked queries", f"{v['blocked_queries']:g} by {v['blocking_sessions']:g} sessions"),
        ("cache hit ratio", f"{v['cache_hit_pct']:.2f}%" if "cache_hit_pct" in v else "no reads yet"),
        ("transaction id age", f"{v['xid_age']:,.0f} ({v['xid_wraparound_pct']:.2f}% of wraparound)"),
        ("replication", lag),
        ("unused / duplicate indexes", f"{v['unused_indexes']:g} / {v['duplicate_indexes']:g}"),
    ]
    for name, value in rows:
        table.add_row(name, escape(value))
    return table


def _connections(found: Report) -> Table:
    conn = found.snapshot["connections"]
    table = Table("state or application", "connections", title="Connections", title_justify="left")
    for state, count in sorted(conn["by_state"].items(), key=lambda kv: -kv[1]):
        table.add_row(f"state: {escape(state)}", str(count))
    for app_name, count in sorted(conn["by_app"].items(), key=lambda kv: -kv[1])[:TOP]:
        table.add_row(f"app: {escape(app_name)}", str(count))
    return table


def _long(found: Report) -> Table | None:
    queries = found.snapshot["long"]["queries"]
    if not queries:
        return None
    table = Table("pid", "app", "running", "query", title="Long-running queries", title_justify="left")
    for q in queries[:TOP]:
        table.add_row(str(q["pid"]), escape(q["app"]), show_span(q["seconds"]), escape(q["query"][:200]))
    return table


def _blocked(found: Report) -> Table | None:
    blocked = found.snapshot["blocked"]
    if not blocked:
        return None
    table = Table("pid", "waiting", "query", "blocked by", title="Blocked queries", title_justify="left")
    for q in blocked[:TOP]:
        by = "; ".join(f"{b['pid']} {b['app']} ({b['state']}): {b['query'][:80]}" for b in q["blockers"])
        table.add_row(str(q["pid"]), show_span(q["seconds"]), escape(q["query"][:120]), escape(by))
    return table


def _tables(found: Report) -> Table:
    table = Table("table", "size", "1 day", "dead", "vacuumed", "analyzed", "seq scans", title="Tables",
                  title_justify="left")
    rows: Sequence[dict[str, Any]] = found.snapshot["tables"]
    worst = sorted(rows, key=lambda t: (-t["dead_pct"], -t["bytes"]))[:TOP]
    for t in worst:
        seq = f"{t['seq_pct']:.0f}%"
        if measures.seq_heavy(t, found.seq_scan_min_rows):
            seq += " [yellow]index?[/]"
        grew = t.get("growth_1d")
        table.add_row(escape(t["name"]), _mb(t["bytes"]), "–" if grew is None else f"+{_mb(grew)}",
                      f"{t['dead_pct']:.0f}%", _age(t["vacuum_age_s"]), _age(t["analyze_age_s"]), seq)
    return table


def _indexes(found: Report) -> Table | None:
    snap = found.snapshot
    if not snap["unused_indexes"] and not snap["duplicate_indexes"]:
        return None
    table = Table("index", "size", "finding", title="Indexes", title_justify="left")
    for d in snap["duplicate_indexes"][:TOP]:
        table.add_row(escape(d["index"]), _mb(d["bytes"]), escape(f"duplicate of {d['covered_by']}"))
    for i in snap["unused_indexes"][:TOP]:
        table.add_row(escape(i["name"]), _mb(i["bytes"]), "never scanned")
    return table


def _queries_table(window: QueriesWindow, zone: str) -> Table | str:
    if window.start is None:
        return f"top queries: {window.note}"
    title = f"Top queries {show_time(window.start, zone)} – {show_time(window.end, zone)}"
    table = Table("time", "calls", "mean", "query", title=title, title_justify="left")
    for q in window.queries[:TOP]:
        table.add_row(
            f"{q.total_ms / 1000:.1f} s", str(q.calls), f"{q.mean_ms:.1f} ms", escape(q.query[:200])
        )
    if not window.queries:
        return "top queries: no statement ran in the window"
    return table


@app.command("maintain")
def maintain_command(
    config: ConfigOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would run now; run nothing.")] = False,
) -> None:
    """Maintenance tasks: run those due now inside their window (--dry-run: only show them)."""
    runtime = runtime_or_exit(config, create=False)
    zone = runtime.config.timezone
    with cli_errors(runtime):
        require(cli_actor(), Role.ADMIN)
        rows = upkeep.plan(runtime)
        if not rows:
            console.print("no maintenance tasks: add them under postgres: maintenance: in opsbook.yaml")
            return
        table = Table("task", "window", "now", "next", "last run", title="Maintenance tasks",
                      title_justify="left")
        for row in rows:
            now = (f"[green]due[/] (statement_timeout {show_span(row.statement_timeout)})"
                   if row.due else "not due")
            last = "never" if row.last is None else \
                f"{row.last.outcome} {show_time(row.last.scheduled_for, zone)}"
            table.add_row(escape(row.task.name), escape(row.window.name), now, show_time(row.next_at, zone),
                          escape(last))
        console.print(table)
        for row in rows:
            console.print(f"[bold]{escape(row.task.name)}[/] on {escape(row.task.check)}: "
                          + escape("; ".join(row.task.sql)), highlight=False)
        if dry_run:
            return
        done, _ = upkeep.run_due(runtime, standalone_hooks(runtime))
    for run in done:
        took = "" if run.duration_s is None else f" in {show_span(run.duration_s)}"
        console.print(f"{escape(run.task)}: {run.outcome}{took} {escape(run.error)}", highlight=False)
    if not done:
        console.print("nothing is due now")
