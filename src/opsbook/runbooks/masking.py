"""Secrets written into commands, masked for people: `export DB_PASSWORD='hunter2'`, `mysql -phunter2`,
`--password hunter2`, `Authorization: Bearer …` and credentials in URLs become `***` in the operations log,
the run's record and the terminal echo (pure text in, text out).

Only literal values are masked: `DB_PASSWORD="$DB_PASSWORD"` or `--password "$(vault read …)"` name no
secret and stay as written, so the command still reads as what it does.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from opsbook.redact import MASK, SECRET_NAME, Redactor, redact

_VALUE = r"(?:'[^'\n]*'|\"(?:[^\"\\\n]|\\.)*\"|[^\s;&|'\"]+)"
_ASSIGNMENT = re.compile(rf"(?P<name>\b[A-Za-z_][A-Za-z0-9_]*)=(?P<value>{_VALUE})")
_LONG_OPTION = re.compile(
    r"(?P<option>--[\w-]*(?:password|passwd|token|secret|api-key|apikey|access-key|private-key)"
    rf"(?![\w-]))(?P<sep>=|\s+)(?P<value>{_VALUE})",
    re.IGNORECASE,
)
_MYSQL_PASSWORD = re.compile(
    r"(?P<head>(?:^|[\s;&|(])(?:mysql\w*|mariadb[\w-]*)\b[^\n;&|]*?\s-p)(?P<value>[^\s;&|]+)"
)
_BEARER = re.compile(r"(?P<scheme>\b(?:Bearer|Basic|Token)\s+)(?P<value>[A-Za-z0-9._~+/=-]{8,})")


def _literal(value: str) -> bool:
    """A value that is written out (not `$VAR`, `$(…)` or empty)."""
    inner = _inner(value)
    return bool(inner) and not (value.startswith("$") or (value.startswith('"') and inner.startswith("$")))


def _inner(value: str) -> str:
    return value[1:-1] if len(value) >= 2 and value[0] in "'\"" and value[-1] == value[0] else value


def _quoted_mask(value: str) -> str:
    return f"{value[0]}{MASK}{value[0]}" if value[:1] in "'\"" else MASK


class _Masker:
    """One pass over a command: masks what it finds and keeps the values masked."""

    def __init__(self) -> None:
        self.found: set[str] = set()

    def keep(self, value: str) -> None:
        self.found.add(_inner(value))

    def assignment(self, match: re.Match[str]) -> str:
        value = match["value"]
        if not SECRET_NAME.search(match["name"]) or not _literal(value):
            return match.group(0)
        self.keep(value)
        return f"{match['name']}={_quoted_mask(value)}"

    def long_option(self, match: re.Match[str]) -> str:
        value = match["value"]
        if not _literal(value) or value.startswith("-"):
            return match.group(0)
        self.keep(value)
        return f"{match['option']}{match['sep']}{_quoted_mask(value)}"

    def mysql(self, match: re.Match[str]) -> str:
        if match["value"].startswith("$"):
            return match.group(0)
        self.keep(match["value"])
        return f"{match['head']}{MASK}"

    def bearer(self, match: re.Match[str]) -> str:
        self.keep(match["value"])
        return f"{match['scheme']}{MASK}"

    def __call__(self, command: str) -> str:
        text = _ASSIGNMENT.sub(self.assignment, command)
        text = _LONG_OPTION.sub(self.long_option, text)
        text = _MYSQL_PASSWORD.sub(self.mysql, text)
        return _BEARER.sub(self.bearer, text)


def mask_command(command: str, secrets: set[str] | frozenset[str] = frozenset()) -> str:
    """`command` with the secrets written in it masked (and every literal secret in `secrets`)."""
    return redact(_Masker()(command), secrets)


def written_secrets(command: str) -> set[str]:
    """The secret values written in `command` (to mask in its output too)."""
    masker = _Masker()
    masker(command)
    return {value for value in masker.found if value}


class StreamMask:
    """Passes streamed output on a line at a time with `secrets` masked (a secret may span two chunks);
    `flush` at the end passes the rest."""

    def __init__(self, sink: Callable[[str], None], secrets: set[str]) -> None:
        self.sink = sink
        self.redactor = Redactor(secrets)
        self.buffer = ""

    def feed(self, text: str) -> None:
        self.buffer += text
        head, newline, self.buffer = self.buffer.rpartition("\n")
        if newline:
            self.sink(self.redactor(head + newline))

    def flush(self) -> None:
        if self.buffer:
            self.sink(self.redactor(self.buffer))
            self.buffer = ""
