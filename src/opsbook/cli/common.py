"""What every command shares: the --config option, opening the runtime, printing config errors."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Column

from opsbook.auth.roles import Principal, Role
from opsbook.cli.startup import collector_held
from opsbook.config.yamlpos import ConfigError
from opsbook.errors import OpsbookError, exit_code
from opsbook.runtime import Runtime, database_place, open_runtime


class _Console(Console):
    """Measures the terminal each time it prints. Rich reads COLUMNS and LINES once, when the console is
    made: a command run in the same process after one with another COLUMNS (tests, a REPL) would print
    at the first command's width."""

    def __init__(self, *, stderr: bool = False) -> None:
        super().__init__(stderr=stderr)
        self._width = self._height = None


console = _Console()
err_console = _Console(stderr=True)


def detect_terminal() -> None:
    """Look at the terminal and the environment again (NO_COLOR, TERM...), as the consoles did when made:
    for a process that took on another's standard streams and environment (cli/preloader.py)."""
    console.__init__()  # type: ignore[misc]
    err_console.__init__(stderr=True)  # type: ignore[misc]

ConfigOption = Annotated[
    str | None,
    typer.Option(
        "--config", "-c", envvar="OPSBOOK_CONFIG", help="opsbook.yaml to use (default ./opsbook.yaml)."
    ),
]


def runtime_or_exit(config: str | None, *, create: bool = True) -> Runtime:
    """Open the runtime, or print every config error as FILE:LINE: field: message and exit 2.

    `create=False` for commands that only read: a database that is not there is an error (exit 1)
    rather than a new empty one that shows "no data". Any other command that finds none makes a new
    one and says so, and where, on stderr."""
    try:
        with collector_held():  # the config's objects and the database's tables live as long as the command
            runtime = open_runtime(config, create=create, cached=True)
    except ConfigError as exc:
        print_config_error(exc)
        raise typer.Exit(2) from None
    except OpsbookError as exc:
        raise fail(str(exc), exit_code(exc)) from None
    if runtime.made_database:  # what it shows is empty because it is new: say so, and where
        err_console.print(
            f"note: there was no database at {database_place(runtime.engine)}, so a new, empty one was made "
            f"(is {runtime.loaded.path} the right config?)", markup=False, highlight=False,
        )
    return runtime


def print_config_error(exc: ConfigError) -> None:
    for issue in exc.issues:  # plain lines, never wrapped: editors and CI parse FILE:LINE
        typer.echo(str(issue), err=True)


AuthorOption = Annotated[
    str | None,
    typer.Option(
        "--as", "--author", envvar="OPSBOOK_USER",
        help="Who is doing this (default: $OPSBOOK_USER, else your login name).",
    ),
]


def cli_actor(name: str | None = None) -> Principal:
    """The one rule for who acts in the CLI: `--as NAME`, else $OPSBOOK_USER, else the login name.

    Whoever can run the CLI has the config and the database, so the CLI acts with the admin role; the
    name is what the audit log, timelines and runs record."""
    import getpass

    chosen = (name or os.environ.get("OPSBOOK_USER") or "").strip()
    if not chosen:
        try:
            chosen = getpass.getuser().strip()
        except (KeyError, OSError):
            chosen = ""
    if not chosen:
        raise fail("say who you are with --as NAME (or set $OPSBOOK_USER)")
    return Principal(chosen, Role.ADMIN, "cli")


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print `error: message` on stderr and return the Exit to raise (2: bad input, 1: not found)."""
    err_console.print(f"error: {message}", markup=False, highlight=False)
    return typer.Exit(code)


@contextmanager
def cli_errors(runtime: Runtime | None = None) -> Iterator[None]:
    """Present a use case's error as `error: ...` on stderr with its exit code (opsbook.errors)."""
    try:
        yield
    except OpsbookError as exc:
        message = runtime.redact(str(exc)) if runtime is not None else str(exc)
        raise fail(message, exit_code(exc)) from None


@contextmanager
def acting(config: str | None) -> Iterator[Runtime]:
    """The runtime for a command that changes something, its use cases' errors shown as `error: ...` with
    their exit code; closed after."""
    runtime = runtime_or_exit(config)
    try:
        with cli_errors(runtime):
            yield runtime
    finally:
        runtime.close()


def parse_time(text: str, runtime: Runtime, what: str, zone: str | None = None) -> datetime:
    """A time typed on the command line, read by `opsbook.timefmt.parse_when` at the runtime's clock in
    `zone` (default: the team's time zone): `now`, `+2h`, `in 2 hours`, `tomorrow 09:00`, ISO 8601 with
    or without an offset; exit 2 naming the accepted forms if it is none of them."""
    from opsbook.timefmt import TimeInputError, parse_when

    try:
        return parse_when(text, now=runtime.clock.now(), zone=zone or runtime.config.timezone)
    except TimeInputError as exc:
        raise fail(f"{what}: {exc}") from None


def time_column(header: str) -> Column:
    """A table column of times (`2026-03-09 04:01 CET`): never wrapped, so at 80 columns the text columns
    give way rather than a time breaking over two lines."""
    return Column(header, no_wrap=True)


def parse_since(text: str, runtime: Runtime, what: str) -> datetime:
    """`--since`: a length of time back from now (`24h`, `7d`) or a time (`yesterday 09:00`, `2026-03-01`),
    read by `opsbook.timefmt.parse_since` (as the API's `since`); exit 2 naming both kinds if neither."""
    from opsbook.timefmt import TimeInputError, parse_since

    try:
        return parse_since(text, now=runtime.clock.now(), zone=runtime.config.timezone)
    except TimeInputError as exc:
        raise fail(f"{what}: {exc}") from None


def parse_length(text: str, what: str) -> timedelta:
    """A length of time typed on the command line (`2h`, `90m`, `1d`, `2 hours`); exit 2 if none."""
    from opsbook.timefmt import TimeInputError, parse_span

    try:
        return parse_span(text)
    except TimeInputError as exc:
        raise fail(f"{what}: {exc}") from None
