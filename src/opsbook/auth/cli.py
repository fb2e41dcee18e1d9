"""`opsbook token create|list|revoke`: API tokens for scripts, CI and the CLI's remote use."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select

from opsbook.auth import audit
from opsbook.auth.models import ApiTokenRow
from opsbook.auth.roles import Role
from opsbook.auth.tokens import create_token
from opsbook.cli.common import ConfigOption, cli_actor, console, runtime_or_exit

app = typer.Typer(help="API tokens.", no_args_is_help=True)


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="What the token is for, e.g. 'grafana'.")],
    role: Annotated[Role, typer.Option(help="viewer, responder or admin.")] = Role.VIEWER,
    config: ConfigOption = None,
) -> None:
    """Create a token; it is printed once and stored only as a hash."""
    runtime = runtime_or_exit(config)
    with runtime.sessions.begin() as session:
        token = create_token(session, name, role, runtime.clock.now())
        audit.record(session, runtime.clock.now(), cli_actor(), "token.create", name, role=role.value)
    typer.echo(token)


@app.command("list")
def list_tokens(config: ConfigOption = None) -> None:
    """Show tokens (names and roles, never the tokens themselves)."""
    runtime = runtime_or_exit(config)
    table = Table("id", "name", "role", "created", "last used", "revoked")
    with runtime.sessions() as session:
        for row in session.scalars(select(ApiTokenRow).order_by(ApiTokenRow.id)):
            table.add_row(
                str(row.id),
                row.name,
                row.role,
                f"{row.created_at:%Y-%m-%d %H:%M}",
                f"{row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "-",
                f"{row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "",
            )
    console.print(table)


@app.command("revoke")
def revoke(token_id: int, config: ConfigOption = None) -> None:
    """Revoke a token by its id."""
    runtime = runtime_or_exit(config)
    with runtime.sessions.begin() as session:
        row = session.get(ApiTokenRow, token_id)
        if row is None:
            console.print(f"[red]no token {token_id}[/]")
            raise typer.Exit(1)
        row.revoked_at = runtime.clock.now()
        audit.record(session, runtime.clock.now(), cli_actor(), "token.revoke", row.name)
    console.print(f"token {token_id} ({row.name}) revoked")
