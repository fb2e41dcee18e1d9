"""Counts as people write them: `1 command`, `2 commands`, never `2 command(s)`. Pure."""

from __future__ import annotations


def count(n: int, noun: str, plural: str | None = None) -> str:
    """`count(1, "step")` -> "1 step", `count(3, "step")` -> "3 steps", `count(2, "entry", "entries")`."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"
