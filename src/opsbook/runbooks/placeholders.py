"""Placeholders in commands become parameters: `<container-id>`, `[YOUR_DEPLOY_COMMAND]`, `YYYY-MM-DD`,
upper-case tokens such as `PREVIOUS_REVISION`, and environment variables such as `$REDIS_PASSWORD`.

Pure functions: `find` lists what a command needs, `fill` puts values in (environment variables stay
as they are: the shell reads them, so their values never appear in a command line).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Mapping
from datetime import datetime

from opsbook.runbooks.document import Parameter, ParamKind

_ANGLE = re.compile(r"<([A-Za-z][A-Za-z0-9_.\-]*(?: [A-Za-z0-9_.\-]+)*)>")
_SQUARE = re.compile(r"\[([A-Z][A-Z0-9]*(?:[_ \-][A-Z0-9]+)*)\]")
_DATE = re.compile(r"YYYY-MM-DD(?:[T ]HH:MM(?::SS)?)?|YYYYMMDD|YYYY-MM(?!-)")
_UPPER = re.compile(r"(?<![\w$\{\-/.<\\])([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)(?![\w=}(\-])")
_ENV = re.compile(r"\$(?:\{([A-Z_][A-Z0-9_]*)(?::?[-=+?][^}]*)?\}|([A-Z_][A-Z0-9_]*))")
_ASSIGN = re.compile(r"(?:^|[\s;&|(])(?:export\s+|local\s+|readonly\s+)?([A-Za-z_][A-Za-z0-9_]*)=")
_FOR = re.compile(r"\b(?:for|read)\s+(?:-\w+\s+)*([A-Za-z_][A-Za-z0-9_]*)")

SHELL_VARIABLES = frozenset(
    {
        "HOME",
        "PATH",
        "USER",
        "LOGNAME",
        "PWD",
        "OLDPWD",
        "SHELL",
        "HOSTNAME",
        "TMPDIR",
        "LANG",
        "TERM",
        "UID",
        "EUID",
        "PPID",
        "RANDOM",
        "SECONDS",
        "LINENO",
        "IFS",
        "BASH_SOURCE",
        "BASH_VERSION",
        "EDITOR",
        "PAGER",
        "DISPLAY",
        "LC_ALL",
        "PS1",
        "PIPESTATUS",
        "OSTYPE",
        "HOSTTYPE",
        "REPLY",
    }
)


def _mask_quoted(text: str) -> str:
    """The text with everything inside quotes blanked (same length), for searches outside quotes."""
    out: list[str] = []
    quote = ""
    escaped = False
    for ch in text:
        if escaped:
            out.append(" " if quote else ch)
            escaped = False
        elif ch == "\\" and quote != "'":
            escaped = True
            out.append(" " if quote else ch)
        elif quote:
            if ch == quote:
                quote = ""
                out.append(ch)
            else:
                out.append("\n" if ch == "\n" else " ")
        elif ch in "'\"":
            quote = ch
            out.append(ch)
        else:
            out.append(ch)
    return "".join(out)


_Hit = tuple[int, int, str, ParamKind, str]  # start, end, name, kind, the token as written


def _bracket_hits(command: str) -> list[_Hit]:
    """`[SQUARE]` and `<angle>` placeholders and date patterns such as `YYYY-MM-DD`."""
    hits: list[_Hit] = []
    for m in _SQUARE.finditer(command):
        if len(m.group(1)) >= 3 and not re.fullmatch(r"[A-Z]-[A-Z0-9]", m.group(1)):
            hits.append((m.start(), m.end(), m.group(1), "text", m.group(0)))
    hits += [(m.start(), m.end(), m.group(1), "text", m.group(0)) for m in _ANGLE.finditer(command)]
    hits += [(m.start(), m.end(), m.group(0), "date", m.group(0)) for m in _DATE.finditer(command)]
    return hits


def assigned(command: str) -> set[str]:
    """The variables a shell command sets (`FOO=…`, `export FOO=…`, `for FOO in`, `read FOO`)."""
    names = {m.group(1) for m in _ASSIGN.finditer(command)}
    return names | {m.group(1) for m in _FOR.finditer(command)}


def _shell_hits(command: str) -> list[_Hit]:
    """`$ENV` variables and bare UPPER_CASE words outside quotes, but not the shell's own variables nor
    those the command sets itself."""
    skip = SHELL_VARIABLES | assigned(command)
    hits: list[_Hit] = []
    for m in _ENV.finditer(command):
        name = m.group(1) or m.group(2)
        if name not in skip:
            hits.append((m.start(), m.end(), name, "env", "$" + name))
    for m in _UPPER.finditer(_mask_quoted(command)):
        name = m.group(1)
        if name not in skip:
            hits.append((m.start(), m.end(), name, "text", name))
    return hits


def _without_overlaps(hits: list[_Hit]) -> list[_Hit]:
    """The hits in order, each dropped if it overlaps one kept before it."""
    kept: list[_Hit] = []
    spans: list[tuple[int, int]] = []  # kept (start, end), sorted; they never overlap, so ends are sorted too
    for hit in hits:
        start, end = hit[0], hit[1]
        i = bisect.bisect_left(spans, (end,))  # spans starting before `end`: only the last may overlap
        if i and spans[i - 1][1] > start:
            continue
        spans.insert(i, (start, end))
        kept.append(hit)
    return kept


def find(command: str, language: str = "shell") -> list[Parameter]:
    """Every parameter `command` needs, in order of first appearance (one per name)."""
    hits = _bracket_hits(command)
    if language == "shell":
        hits += _shell_hits(command)
    found = sorted((start, name, kind, token) for start, _, name, kind, token in _without_overlaps(hits))
    return merge([[Parameter(name, kind, (token,)) for _, name, kind, token in found]])


def merge(groups: list[list[Parameter]]) -> list[Parameter]:
    """Parameters of several steps as one list, one per name, tokens combined."""
    params: dict[str, Parameter] = {}
    for group in groups:
        for param in group:
            key = param.name.lower()
            if key in params:
                old = params[key]
                extra = tuple(t for t in param.tokens if t not in old.tokens)
                params[key] = Parameter(old.name, old.kind, (*old.tokens, *extra))
            else:
                params[key] = param
    return list(params.values())


def default_value(param: Parameter, now: datetime) -> str | None:
    """What to offer when asking: today's date for a date placeholder, nothing otherwise."""
    if param.kind != "date":
        return None
    pattern = param.tokens[0]  # as written: YYYY-MM-DD, YYYYMMDD, ...
    if pattern == "YYYYMMDD":
        return now.strftime("%Y%m%d")
    if pattern == "YYYY-MM":
        return now.strftime("%Y-%m")
    if "HH:MM:SS" in pattern:
        return now.strftime("%Y-%m-%d" + pattern[10] + "%H:%M:%S")
    if "HH:MM" in pattern:
        return now.strftime("%Y-%m-%d" + pattern[10] + "%H:%M")
    return now.strftime("%Y-%m-%d")


def fill(command: str, parameters: list[Parameter] | tuple[Parameter, ...], values: Mapping[str, str]) -> str:
    """`command` with each non-env parameter's tokens replaced by its value (missing ones left as written)."""
    by_name = {k.lower(): v for k, v in values.items()}
    replacements: list[tuple[str, str]] = []
    for param in parameters:
        if param.kind == "env":
            continue
        value = by_name.get(param.name.lower())
        if value is None:
            continue
        replacements.extend((token, value) for token in param.tokens)
    if not replacements:
        return command
    replacements.sort(key=lambda r: len(r[0]), reverse=True)
    pattern = re.compile("|".join(_token_pattern(t) for t, _ in replacements))
    table = dict(replacements)
    return pattern.sub(lambda m: table[m.group(0)], command)


def _token_pattern(token: str) -> str:
    escaped = re.escape(token)
    if re.fullmatch(r"[A-Z][A-Z0-9_]*", token):
        return rf"(?<![\w$\{{]){escaped}(?!\w)"
    return escaped
