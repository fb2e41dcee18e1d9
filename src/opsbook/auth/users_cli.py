"""`opsbook user set-password NAME` and `opsbook user list`: passwords for the users of opsbook.yaml.

Users and their roles are declared in opsbook.yaml (`users:`); this only stores their password hashes.
Setting a password ends the user's open browser sessions.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import func, select

from opsbook.auth import audit, passwords, sessions
from opsbook.auth.web_models import UserPasswordRow, WebSessionRow
from opsbook.cli.common import ConfigOption, cli_actor, console, err_console, runtime_or_exit

app = typer.Typer(
    help="Users of the web UI: passwords (users and roles are declared in opsbook.yaml).",
    no_args_is_help=True,
)


@app.command("set-password")
def set_password(
    name: Annotated[str, typer.Argument(help="A user declared under `users:` in opsbook.yaml.")],
    config: ConfigOption = None,
) -> None:
    """Set NAME's password (asked twice, never echoed) and sign NAME out everywhere."""
    runtime = runtime_or_exit(config)
    if sessions.user_role(runtime.config, name) is None:
        known = ", ".join(u.name for u in runtime.config.users) or "none"
        err_console.print(f"[red]no user {name!r} in {runtime.loaded.path}[/] (users: {known})")
        raise typer.Exit(1)
    password = typer.prompt("New password", hide_input=True, confirmation_prompt="Repeat the password")
    problem = passwords.check_strength(password, name)
    if problem:
        err_console.print(f"[red]{problem}[/]")
        raise typer.Exit(1)
    now = runtime.clock.now()
    actor = cli_actor()
    with runtime.sessions.begin() as session:
        passwords.set_password(session, name, password, now, by=actor.name)
        ended = sessions.revoke_user_sessions(session, name, now)
        audit.record(session, now, actor, "user.set_password", f"user:{name}", sessions_ended=ended)
    console.print(f"password of {name} set" + (f"; {ended} session(s) ended" if ended else ""))


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
            f"{seen:%Y-%m-%d %H:%M}" if seen else "-",
            str(open_sessions.get(user.name, 0)),
        )
    console.print(table)
