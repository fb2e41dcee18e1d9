"""The command lines opsbook suggests to people (in messages and on pages), quoted so that they work as
typed in a POSIX shell, and started the way the config says a responder runs opsbook (`server.cli`;
by default `opsbook`, with `-c FILE` when the config is not the file a command finds by itself)."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the config's models only for type checks: messages and pages import this module
    from opsbook.config.schema import ServerSettings

_UNSAFE_IN_DOUBLE_QUOTES = frozenset('"$`\\!')


def shell_word(text: str) -> str:
    """`text` as one shell word: bare if it needs no quoting, in double quotes when that is safe (easier to
    read), else in single quotes."""
    quoted = shlex.quote(text)
    if quoted == text or _UNSAFE_IN_DOUBLE_QUOTES & set(text):
        return quoted
    return f'"{text}"'


def opsbook_command(server: ServerSettings | None, *args: str | int) -> str:
    """`opsbook ARGS…` as a responder types it: how they run opsbook (`server.cli`, default `opsbook`), each
    of `args` as one shell word, then `-c FILE` if the config names no `cli` and is not the file a command
    finds by default (`server.config_file`). Every command opsbook suggests is made here."""
    words = [shell_word(str(arg)) for arg in args]
    config_file = server.config_file if server is not None else None
    if config_file:
        words += ["-c", shell_word(config_file)]
    return " ".join([(server.cli if server is not None else None) or "opsbook", *words])


def run_command(server: ServerSettings | None, name: str, incident_id: int | str | None = None) -> str:
    """`opsbook runbook run "NAME" [--incident N]`."""
    incident = () if incident_id is None else ("--incident", incident_id)
    return opsbook_command(server, "runbook", "run", name.strip(), *incident)


def ack_command(server: ServerSettings | None, incident_id: int) -> str:
    """`opsbook incident ack N`."""
    return opsbook_command(server, "incident", "ack", incident_id)
