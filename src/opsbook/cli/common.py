"""What every command shares: the --config option, opening the runtime, printing config errors."""

from __future__ import annotations

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
