"""`opsbook capacity`: the runbooks' capacity table, with trends and the dates thresholds are reached."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Column, Table

from opsbook.capacity.forecast import NoTrend
from opsbook.capacity.service import ResourceView, capacity_table
from opsbook.cli.common import ConfigOption, cli_actor, cli_errors, console, runtime_or_exit
from opsbook.timefmt import show_time


def capacity(config: ConfigOption = None) -> None:
    """The capacity table: current, capacity, utilisation, trend, when each threshold is reached."""
    runtime = runtime_or_exit(config, create=False)
    try:
        with cli_errors(runtime):
            views = capacity_table(runtime, cli_actor())
    finally:
        runtime.close()
    if not views:
        console.print("no capacity resources: add a `capacity: resources:` table to opsbook.yaml")
        return
    zone = runtime.config.timezone
    table = Table("current", "capacity", "use", "trend/week", "reaches", "action")
    table.columns.insert(0, Column("resource", overflow="fold"))
    notes: list[str] = []
    for view in views:
        table.add_row(*(escape(cell) for cell in cells(view, zone)))
        if isinstance(view.trend, NoTrend):
            notes.append(f"{view.resource.label()}: {view.trend.reason}")
    console.print(table)
    for note in notes:
        console.print(f"[dim]{escape(note)}[/]")


def cells(view: ResourceView, zone: str) -> list[str]:
    """The table's row of one resource, plain text (the web UI shows the same)."""
    resource = view.resource
    unit = resource.unit
    current = "–" if view.current is None else f"{round(view.current, 1):g}{unit}"
    use = "–" if view.utilisation is None else f"{view.utilisation:.0f}%"
    trend = "–" if isinstance(view.trend, NoTrend) else f"{view.trend.slope_per_day * 7:+.1f}{unit}"
    upcoming = view.next_crossing
    if upcoming is None or upcoming.when is None:
        reaches = "not on this trend" if not isinstance(view.trend, NoTrend) else "–"
    else:
        date = show_time(upcoming.when, zone, fmt="%Y-%m-%d")
        reaches = f"{upcoming.level:g}{unit} {date}"
    return [resource.label(), current, f"{resource.capacity:g}{unit}", use, trend, reaches, view.action]
