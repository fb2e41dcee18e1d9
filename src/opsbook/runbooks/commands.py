"""The command lines opsbook suggests to people (in messages and on pages), quoted so that they work as
typed in a POSIX shell."""

from __future__ import annotations

import shlex

_UNSAFE_IN_DOUBLE_QUOTES = frozenset('"$`\\!')


def shell_word(text: str) -> str:
    """`text` as one shell word: bare if it needs no quoting, in double quotes when that is safe (easier to
    read), else in single quotes."""
    quoted = shlex.quote(text)
    if quoted == text or _UNSAFE_IN_DOUBLE_QUOTES & set(text):
        return quoted
    return f'"{text}"'


def run_command(name: str, incident_id: int | str | None = None) -> str:
    """`opsbook runbook run "NAME" [--incident N]`."""
    line = f"opsbook runbook run {shell_word(name.strip())}"
    return line if incident_id is None else f"{line} --incident {incident_id}"
