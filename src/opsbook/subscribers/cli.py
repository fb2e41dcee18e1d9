"""`opsbook subscribers list|remove`: the status page's subscribers, addresses masked, with how delivery
to each went; removing one (the use case `opsbook.subscribers.service.remove`, audit-logged as the CLI
user). Times in the team's zone with the zone."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Column, Table

from opsbook.cli.common import AuthorOption, ConfigOption, acting, cli_actor, console, runtime_or_exit
from opsbook.subscribers import service
from opsbook.timefmt import show_time

app = typer.Typer(no_args_is_help=True, help="Status page subscribers: who is told, and how it went.")


@app.command("list")
def list_(config: ConfigOption = None) -> None:
    """The subscribers, newest first: # (for remove), masked address, services, delivery counts."""
    runtime = runtime_or_exit(config)
    try:
        zone = runtime.config.timezone
        table = Table("#", Column("address", overflow="fold"), Column("services", overflow="fold"),
                      Column("since", no_wrap=True), Column("sent/failed", justify="right"))
        found = service.views(runtime)
        for v in found:
            since = (show_time(v.confirmed_at, zone) if v.confirmed_at
                     else f"pending\n{show_time(v.created_at, zone)}")
            table.add_row(str(v.id), f"{v.masked}\n[dim]{v.kind}[/dim]", ", ".join(v.services) or "all",
                          since, f"{v.delivery.sent}/{v.delivery.failed}"
                          + (f"\n[dim]{v.delivery.failed_attempts} failed tries[/dim]"
                             if v.delivery.failed_attempts else ""))
        console.print(table if found else "no subscribers")
    finally:
        runtime.close()


@app.command("remove")
def remove(
    subscriber_id: Annotated[int, typer.Argument(help="The subscriber (# in `opsbook subscribers list`).")],
    author: AuthorOption = None,
    config: ConfigOption = None,
) -> None:
    """Remove a subscriber; messages to it not sent yet are withdrawn."""
    actor = cli_actor(author)
    with acting(config) as runtime:
        service.remove(runtime, actor, subscriber_id)
    console.print(f"subscriber {subscriber_id} removed", markup=False, highlight=False)
