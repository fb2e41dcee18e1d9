"""`opsbook user set-password NAME` and `opsbook user list`: passwords for the users of opsbook.yaml.

Users and their roles are declared in opsbook.yaml (`users:`); this only stores their password hashes.
Setting a password (the use case `auth.service.set_user_password`) ends the user's open browser sessions.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import func, select

from opsbook.auth import service, sessions
from opsbook.auth.web_models import UserPasswordRow, WebSessionRow
from opsbook.cli.common import AuthorOption, ConfigOption, cli_actor, cli_errors, console, runtime_or_exit
from opsbook.timefmt import show_time
from opsbook.words import count

app = typer.Typer(
    help="Users of the web UI: passwords (users and roles are declared in opsbook.yaml).",
    no_args_is_help=True,
)


@app.command("set-password")
def set_password(
    name: Annotated[str, typer.Argument(help="A user declared under `users:` in opsbook.yaml.")],
    author: AuthorOption = None,
    config: ConfigOption = None,
) -> None:
    """Set NAME's password (asked twice, never echoed) and sign NAME out everywhere."""
    runtime = runtime_or_exit(config)
    actor = cli_actor(author)
    with cli_errors(runtime):
        service.known_user(runtime, name)  # before asking for a password for nobody
    password = typer.prompt("New password", hide_input=True, confirmation_prompt="Repeat the password")
    with cli_errors(runtime):
        ended = service.set_user_password(runtime, actor, name, password)
    ended_note = f"; {count(ended, 'session')} ended" if ended else ""
    console.print(f"password of {name} set{ended_note}", markup=False)


@app.command("list")
def list_users(config: ConfigOption = None) -> None:
    """Users from opsbook.yaml with their role, whether they have a password, and their last sign-in."""
    runtime = runtime_or_exit(config)
    now = runtime.clock.now()
    with runtime.sessions() as session:
        has = set(session.scalars(select(UserPasswordRow.user)))
        last = sessions.last_logins(session)
        rows = session.execute(
            select(WebSessionRow.user, func.count())
            .where(WebSessionRow.revoked_at.is_(None), WebSessionRow.expires_at > now)
            .group_by(WebSessionRow.user)
        )
        open_sessions = {user: count for user, count in rows}
    table = Table("name", "full name", "role", "password", "last sign-in", "sessions")
    for user in runtime.config.users:
        seen = last.get(user.name)
        table.add_row(
            user.name,
            user.full_name,
            user.role.value,
            "set" if user.name in has else "[yellow]none[/]",
            show_time(seen, runtime.config.timezone) if seen else "-",
            str(open_sessions.get(user.name, 0)),
        )
    console.print(table)
