"""What every command shares: the --config option, opening the runtime, printing config errors."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console

from opsbook.auth.roles import Principal, Role
from opsbook.config.yamlpos import ConfigError
from opsbook.runtime import Runtime, open_runtime

console = Console()
err_console = Console(stderr=True)

ConfigOption = Annotated[
    str | None,
    typer.Option(
        "--config", "-c", envvar="OPSBOOK_CONFIG", help="opsbook.yaml to use (default ./opsbook.yaml)."
    ),
]


def runtime_or_exit(config: str | None) -> Runtime:
    """Open the runtime, or print every config error as FILE:LINE: field: message and exit 2."""
    try:
        return open_runtime(config)
    except ConfigError as exc:
        print_config_error(exc)
        raise typer.Exit(2) from None


def print_config_error(exc: ConfigError) -> None:
    for issue in exc.issues:  # plain lines, never wrapped: editors and CI parse FILE:LINE
        typer.echo(str(issue), err=True)


def cli_actor() -> Principal:
    """Whoever runs the CLI: it has the database, so it acts as an admin, audited under the OS user name."""
    import getpass

    return Principal(f"cli:{getpass.getuser()}", Role.ADMIN, "cli")


AuthorOption = Annotated[
    str | None, typer.Option("--author", envvar="USER", help="Who is doing this (default: $USER).")
]


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print `error: message` on stderr and return the Exit to raise (2: bad input, 1: not found)."""
    err_console.print(f"error: {message}", markup=False, highlight=False)
    return typer.Exit(code)


def author_actor(author: str | None) -> Principal:
    """The person a CLI action is recorded under (`--author`, else $USER); refuses an empty name."""
    if not author or not author.strip():
        raise fail("say who you are with --author NAME (or set $USER)")
    return Principal(author.strip(), Role.ADMIN, "cli")


def parse_time(text: str, timezone: str, what: str) -> datetime:
    """An ISO 8601 time; without an offset, a wall-clock time of `timezone` (DST-aware)."""
    from opsbook.oncall.rotation import local_to_utc, zone_of

    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise fail(
            f"{what}: {text!r} is not an ISO 8601 time (e.g. 2026-01-16T18:00 or ...T17:00Z)"
        ) from None
    if value.tzinfo is None:
        return local_to_utc(value, zone_of(timezone))
    return value
