"""`opsbook chore list|done|skip`: the recurring chores, who has them and when, and closing one by hand.

Times are shown in the team's `timezone:` with the zone. `done` and `skip` are the use cases of
`opsbook.chores.service` (responder role, audit-logged), as from the API; who acts is `--as`/`--author`,
else $OPSBOOK_USER, else the login name.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Column, Table

from opsbook.chores import service
from opsbook.chores.models import ChoreDueRow
from opsbook.cli.common import (
    AuthorOption,
    ConfigOption,
    cli_actor,
    cli_errors,
    console,
    runtime_or_exit,
    time_column,
)
from opsbook.timefmt import show_time

app = typer.Typer(no_args_is_help=True, help="Recurring chores: what is due, by whom, and by when.")


def _open(row: ChoreDueRow | None) -> str:
    if row is None:
        return "nothing open"
    return f"#{row.id} {row.status}\n{row.assignee or 'nobody on call'}"


@app.command("list")
def list_(
    all_: Annotated[bool, typer.Option("--all", help="Also the occurrences done and skipped.")] = False,
    config: ConfigOption = None,
) -> None:
    """The chores: each one's open occurrence (id for done/skip) and when it is next due."""
    runtime = runtime_or_exit(config)
    try:
        zone = runtime.config.timezone
        table = Table(Column("chore", no_wrap=True), "open", time_column("do it by"), time_column("next due"))
        for view in service.views(runtime):
            table.add_row(
                f"{view.config.name}\n[dim]{service.assignee_label(view.config)}[/dim]", _open(view.open),
                show_time(view.open.deadline, zone) if view.open is not None else "",
                show_time(view.next_due, zone),
            )
        console.print(table if runtime.config.chores else "no chores in opsbook.yaml")
        if all_:
            past = Table("#", Column("chore", no_wrap=True), time_column("due"), "what became of it")
            for row in service.occurrences(runtime):
                who = row.closed_by or row.assignee or "nobody"
                note = f"{row.status} ({who})" + (f": {row.reason}" if row.reason else "")
                past.add_row(str(row.id), row.chore, show_time(row.due_at, zone), note)
            console.print(past)
    finally:
        runtime.close()


@app.command("done")
def done(
    due_id: Annotated[int, typer.Argument(help="The occurrence (# in `opsbook chore list`).")],
    note: Annotated[str, typer.Option("--note", "-m", help="How it was done.")] = "",
    author: AuthorOption = None,
    config: ConfigOption = None,
) -> None:
    """Mark a chore done another way than by running its procedure (written to the operations log)."""
    actor = cli_actor(author)
    runtime = runtime_or_exit(config)
    try:
        with cli_errors(runtime):
            row = service.mark_done(runtime, actor, due_id, note)
        console.print(f"chore {row.chore} #{row.id} done; operations log entry #{row.oplog_entry}",
                      markup=False, highlight=False)
    finally:
        runtime.close()


@app.command("skip")
def skip(
    due_id: Annotated[int, typer.Argument(help="The occurrence (# in `opsbook chore list`).")],
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why not this time (required).")] = "",
    author: AuthorOption = None,
    config: ConfigOption = None,
) -> None:
    """Skip a chore this time, saying why."""
    actor = cli_actor(author)
    runtime = runtime_or_exit(config)
    try:
        with cli_errors(runtime):
            row = service.skip(runtime, actor, due_id, reason)
        console.print(f"chore {row.chore} #{row.id} skipped: {row.reason}", markup=False, highlight=False)
    finally:
        runtime.close()
