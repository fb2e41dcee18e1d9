"""Counts as people write them (`1 command`, `2 commands`, never `2 command(s)`) and step titles under
opsbook's own numbering. Pure."""

from __future__ import annotations

import re

_OWN_NUMBER = re.compile(r"^\s*\d+[.)]\s+")


def count(n: int, noun: str, plural: str | None = None) -> str:
    """`count(1, "step")` -> "1 step", `count(3, "step")` -> "3 steps", `count(2, "entry", "entries")`."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def unnumbered(title: str) -> str:
    """A step's title without the author's own `1. ` or `2) ` in front, for where opsbook numbers the
    steps itself, so nothing reads "1. 1. Check the health endpoint"."""
    return _OWN_NUMBER.sub("", title) or title
