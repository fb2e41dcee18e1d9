"""`opsbook slo` (every service's objectives: SLI now, budget left, burn rate) and `opsbook slo show
SERVICE` (its burn alerts and what each window burns); `opsbook report sla` runs `report_sla` here.
Readable at 80 columns; times in the team's zone."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.table import Column, Table

from opsbook.cli.common import ConfigOption, cli_errors, console, runtime_or_exit
from opsbook.config.types import format_duration
from opsbook.slo import report, service
from opsbook.slo.service import SloView
from opsbook.slo.shown import (
    availability_objective,
    budget_text,
    latency_objective,
    maintenance_words,
    rate_text,
    sli_text,
)
from opsbook.timefmt import show_time

app = typer.Typer(
    invoke_without_command=True, help="Service level objectives: SLI, error budget left, burn rate."
)


def _rows(view: SloView) -> list[tuple[str, str, str, str, list[str]]]:
    """(objective, SLI, budget left, burn rate over the first burn alert's long window, burn alerts
    firing) per objective of the service."""
    slo, out = view.config, []
    over = f" {format_duration(view.burn_window)}" if view.burn_window else ""
    if view.availability is not None:
        out.append(
            (
                availability_objective(slo),
                sli_text(view.availability),
                budget_text(view.availability.budget_left),
                rate_text(view.burn_rate) + over,
                [b.config.name for b in view.burns if b.firing],
            )
        )
    if view.latency is not None:
        out.append(
            (
                latency_objective(slo),
                sli_text(view.latency),
                budget_text(view.latency.budget_left),
                rate_text(view.latency_burn_rate) + over,
                [b.config.name for b in view.latency_burns if b.firing],
            )
        )
    return out


@app.callback()
def list_(ctx: typer.Context, config: ConfigOption = None) -> None:
    """Every service's objectives: the SLI over the window, the error budget left, the burn rate now."""
    if ctx.invoked_subcommand is not None:
        return
    runtime = runtime_or_exit(config, create=False)
    try:
        views = service.views(runtime)
    finally:
        runtime.close()
    if not views:
        console.print("no SLOs: add them under `slos:` in opsbook.yaml", markup=False)
        return
    table = Table(
        Column("service", no_wrap=True),
        "objective",
        Column("SLI", no_wrap=True),
        Column("budget left", no_wrap=True),
        Column("burn", no_wrap=True),
    )
    for view in views:
        for n, (objective, sli, left, rate, burning) in enumerate(_rows(view)):
            flag = f"\n[red]{', '.join(burning)} burn[/red]" if burning else ""
            table.add_row(view.config.service if n == 0 else "", objective, sli, left, rate + flag)
    console.print(table)


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(metavar="SERVICE", help="The service.")],
    config: ConfigOption = None,
) -> None:
    """One service's objectives, with each burn alert's rates over its two windows."""
    runtime = runtime_or_exit(config, create=False)
    try:
        with cli_errors(runtime):
            view = service.view(runtime, name)
    finally:
        runtime.close()
    slo, zone = view.config, runtime.config.timezone
    checks = ", ".join(c.split("/", 1)[1] for c in view.checks)
    console.print(
        f"{slo.service}: up while none of {checks} is down; {maintenance_words(slo)}; "
        f"as of {show_time(view.at, zone)}",
        markup=False,
        highlight=False,
    )
    table = Table(
        "objective",
        Column("SLI", no_wrap=True),
        Column("budget left", no_wrap=True),
        Column("burn", no_wrap=True),
    )
    for objective, sli, left, rate, _ in _rows(view):
        table.add_row(objective, sli, left, rate)
    console.print(table)
    if view.availability is not None and view.availability.eligible_us:
        figures = view.availability
        console.print(
            f"down {float(figures.bad_us) / 60e6:.2f} min of {float(figures.allowed_us) / 60e6:.2f} "
            f"allowed in the window",
            markup=False,
            highlight=False,
        )
    elif view.availability is not None:
        console.print("no state known in the window yet: nothing measured", markup=False, highlight=False)
    for title, burns in (("availability", view.burns), ("latency", view.latency_burns)):
        if not burns:
            continue
        alerts = Table(
            Column("burn alert", no_wrap=True),
            Column("long", no_wrap=True),
            Column("short", no_wrap=True),
            "state",
            title=f"Burn-rate alerts on {title}",
        )
        for burn in burns:
            c = burn.config
            alerts.add_row(
                f"{c.name} {c.factor:g}× {c.severity.value}",
                f"{rate_text(burn.long_rate)} {format_duration(c.long)}",
                f"{rate_text(burn.short_rate)} {format_duration(c.short)}",
                "[red]firing[/red]" if burn.firing else "quiet",
            )
        console.print(alerts)


def report_sla(month: str | None, fmt: Literal["md", "csv"], output: Path | None, config: str | None) -> None:
    """`opsbook report sla`: the month's SLA report as Markdown or CSV, to stdout or a file."""
    runtime = runtime_or_exit(config, create=False)
    try:
        with cli_errors(runtime):
            now = runtime.clock.now()
            month = month or report.this_month(now, runtime.config.timezone)
            with runtime.sessions() as session:
                found = report.sla_report(session, runtime.config, month, now)
    finally:
        runtime.close()
    text = report.to_csv(found) if fmt == "csv" else report.to_markdown(found)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {output}", markup=False, highlight=False)
