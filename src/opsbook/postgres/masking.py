"""Query text with its literals masked: `WHERE email = 'ana@example.com' AND id = 42` → `... = ? AND id = ?`.

pg_stat_activity shows queries as sent, values and all; what opsbook stores and shows of them keeps the
shape of the query and none of its data. Strings (standard, E'' escaped, dollar-quoted), numbers
and bind placeholders' values are replaced; identifiers, keywords and `$1`-style parameters stay.
Comments are dropped. Pure.
"""

from __future__ import annotations

import re

_LITERALS = re.compile(
    r"""
    (?P<comment>--[^\n]*|/\*.*?\*/)
  | (?P<dollar>\$(?P<tag>[A-Za-z_][A-Za-z0-9_]*)?\$.*?\$(?P=tag)?\$)
  | (?P<string>[EeBbXxNnUu]?&?'(?:[^'\\]|''|\\.)*'(?:\s*\n\s*'(?:[^']|'')*')*)
  | (?P<ident>"(?:[^"]|"")*"|[A-Za-z_][A-Za-z0-9_$]*)
  | (?P<param>\$\d+)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
    """,
    re.VERBOSE | re.DOTALL,
)
MAX_CHARS = 2000


def mask_literals(query: str, limit: int = MAX_CHARS) -> str:
    """The query with every literal replaced by `?` and whitespace collapsed, cut at `limit` characters."""

    def replace(match: re.Match[str]) -> str:
        kind = match.lastgroup
        if kind == "comment":
            return " "
        if kind in ("dollar", "string", "number"):
            return "?"
        return match.group(0)

    masked = " ".join(_LITERALS.sub(replace, query).split())
    return masked if len(masked) <= limit else masked[: limit - 1] + "…"
