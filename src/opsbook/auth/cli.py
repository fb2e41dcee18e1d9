"""`opsbook token create|list|revoke`: API tokens for scripts, CI and the CLI's remote use (creating and
revoking are the use cases of `auth.service`)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select

from opsbook.auth import service
from opsbook.auth.models import ApiTokenRow
from opsbook.auth.roles import Role
from opsbook.cli.common import AuthorOption, ConfigOption, cli_actor, cli_errors, console, runtime_or_exit
from opsbook.timefmt import show_time

app = typer.Typer(help="API tokens.", no_args_is_help=True)


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="What the token is for, e.g. 'grafana'.")],
    role: Annotated[Role, typer.Option(help="viewer, responder or admin.")] = Role.VIEWER,
    author: AuthorOption = None,
    config: ConfigOption = None,
) -> None:
    """Create a token; it is printed once and stored only as a hash."""
    runtime = runtime_or_exit(config)
    with cli_errors(runtime):
        created = service.create_api_token(runtime, cli_actor(author), name, role)
    typer.echo(created.token)


@app.command("list")
def list_tokens(config: ConfigOption = None) -> None:
    """Show tokens (names and roles, never the tokens themselves)."""
    runtime = runtime_or_exit(config)
    table = Table("id", "name", "role", "created", "last used", "revoked")
    tz = runtime.config.timezone
    with runtime.sessions() as session:
        for row in session.scalars(select(ApiTokenRow).order_by(ApiTokenRow.id)):
            table.add_row(
                str(row.id),
                row.name,
                row.role,
                show_time(row.created_at, tz),
                show_time(row.last_used_at, tz) if row.last_used_at else "-",
                show_time(row.revoked_at, tz) if row.revoked_at else "",
            )
    console.print(table)


@app.command("revoke")
def revoke(token_id: int, author: AuthorOption = None, config: ConfigOption = None) -> None:
    """Revoke a token by its id."""
    runtime = runtime_or_exit(config)
    with cli_errors(runtime):
        row = service.revoke_api_token(runtime, cli_actor(author), token_id)
    console.print(f"token {token_id} ({row.name}) revoked", markup=False)
