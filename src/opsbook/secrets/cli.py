"""`opsbook secret list|show|rotated|compromised`: the secrets inventory (never values) from a terminal.

Times are in the team's time zone (with the zone); `--at` takes ISO 8601 (without an offset: the team's
time zone).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from opsbook.cli.common import (
    AuthorOption,
    ConfigOption,
    cli_actor,
    cli_errors,
    console,
    fail,
    parse_time,
    runtime_or_exit,
)
from opsbook.config.types import format_duration
from opsbook.runtime import Runtime
from opsbook.secrets import service, store
from opsbook.timefmt import show_span, show_time

app = typer.Typer(no_args_is_help=True, help="Secrets: inventory, rotation ages, compromises.")

COLOURS = {"ok": "green", "due soon": "yellow", "unknown": "yellow"}


def _when(t: datetime | None, runtime: Runtime) -> str:
    return "never" if t is None else show_time(t, runtime.config.timezone)


@app.command("list")
def list_secrets(config: ConfigOption = None) -> None:
    """Every secret: owner, policy, age, when rotation is due, state."""
    runtime = runtime_or_exit(config)
    views = service.secret_views(runtime)
    if not views:
        console.print("no secrets in the inventory: add them under `secrets:` in opsbook.yaml")
        return
    table = Table("secret", "owner", "every", "age", "due", "state")
    for view in views:
        age = view.state.age
        colour = COLOURS.get(view.state.status_word, "red")
        table.add_row(view.config.name, view.config.owner, format_duration(view.config.every),
                      f"{age.days} d" if age is not None else "unknown", _when(view.state.due_at, runtime),
                      f"[{colour}]{view.state.status_word}[/]")
    console.print(table)


@app.command("show")
def show(name: Annotated[str, typer.Argument(help="The secret.")], config: ConfigOption = None) -> None:
    """One secret: what it protects, its policy, its rotations, an open compromise."""
    runtime = runtime_or_exit(config)
    with cli_errors(runtime):
        [view] = service.secret_views(runtime, name)
    cfg, state = view.config, view.state
    console.print(f"[bold]{cfg.name}[/] — {state.status_word}", highlight=False)
    lines = [f"Owner: {cfg.owner}", f"Protects: {cfg.protects or '-'}",
             f"Policy: rotate every {format_duration(cfg.every)} "
             f"(owner told {show_span(cfg.warn_before)} ahead)",
             f"State: {state.describe(cfg.every, runtime.config.timezone, runtime.config.server)}",
             f"Rotation procedure: {cfg.rotation or '-'}"]
    if view.compromise is not None:
        lines.append(f"Compromised: reported {_when(view.compromise.reported_at, runtime)} by "
                     f"{view.compromise.reported_by} ({view.compromise.reason}); rotate by "
                     f"{_when(view.compromise.due_at, runtime)}; incident {view.compromise.incident_id}")
    for line in lines:
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    with runtime.sessions() as session:
        rows = store.rotations(session, name)
    if rows:
        table = Table("rotated", "learned from", "by", "note")
        for row in rows:
            table.add_row(_when(row.rotated_at, runtime), row.source, row.actor or "-", row.note)
        console.print(table)


@app.command("rotated")
def rotated(
    name: Annotated[str, typer.Argument(help="The secret that was rotated.")],
    at: Annotated[str | None, typer.Option("--at", help="When (ISO 8601; default now).")] = None,
    note: Annotated[str, typer.Option("--note", "-m", help="What was done.")] = "",
    author: AuthorOption = None,
    config: ConfigOption = None,
) -> None:
    """Record that the secret was rotated: ends a compromise (its incident resolves)."""
    actor = cli_actor(author)
    runtime = runtime_or_exit(config)
    when = parse_time(at, runtime, "--at") if at else None
    with cli_errors(runtime):
        row = service.record_rotation(runtime, actor, name, at=when, note=note)
        [view] = service.secret_views(runtime, name)
    console.print(f"{name}: rotation recorded at {_when(row.rotated_at, runtime)}; next due "
                  f"{_when(view.state.due_at, runtime)}", highlight=False, soft_wrap=True)


@app.command("compromised")
def compromised(
    name: Annotated[str, typer.Argument(help="The secret thought compromised.")],
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (required).")] = "",
    author: AuthorOption = None,
    config: ConfigOption = None,
) -> None:
    """Open an incident for an emergency rotation, due within the secret's emergency deadline."""
    actor = cli_actor(author)
    if not reason.strip():
        raise fail("say why with --reason")
    runtime = runtime_or_exit(config)
    with cli_errors(runtime):
        row = service.report_compromise(runtime, actor, name, reason)
        cfg = service.secret_of(runtime, name)
    console.print(f"incident {row.incident_id} opened: rotate {name} by {_when(row.due_at, runtime)}",
                  highlight=False, soft_wrap=True)
    if cfg.rotation:
        console.print(f'rotate it: opsbook runbook run "{cfg.rotation}" --incident {row.incident_id}',
                      markup=False, highlight=False, soft_wrap=True)
    console.print(f"or, rotated another way: opsbook secret rotated {name}", markup=False, highlight=False)
