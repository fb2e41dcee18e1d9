"""Data → YAML text in block style, with comments above the entries that carry them.

A value wrapped in `Noted(value, comments)` is written with each comment line (`# OPERATIONS.md:142
"…"`) above its key or list item. Scalars are written by PyYAML, so quoting is always right.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import yaml


@dataclass
class Noted:
    """A value with comment lines to write above it."""

    value: Any
    comments: list[str] = field(default_factory=list)


def dump(data: Any, header: list[str] | None = None) -> str:
    """The YAML of `data` (a mapping), preceded by `header` comment lines."""
    lines = [f"# {_UNPRINTABLE.sub('', ' '.join(str(line).splitlines()))}".rstrip() for line in header or []]
    lines += _block(data, 0)
    return "\n".join(lines) + "\n"


def scalar(value: Any) -> str:
    """A scalar as YAML writes it (quoted where YAML would read it otherwise: 'yes', '08:00', '1.0')."""
    return _scalar(value) if isinstance(value, str | int | float | bool | None) else _dumped(value)


@lru_cache(maxsize=8192)
def _scalar(value: str | int | float | bool | None) -> str:
    return _dumped(value)


def _dumped(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000, allow_unicode=True).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()


_UNPRINTABLE = re.compile("[^\x09\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def comment_text(text: str) -> str:
    """One line of comment: whitespace collapsed, characters YAML refuses removed."""
    return " ".join(_UNPRINTABLE.sub("", str(text)).split())


def _comments(noted: Noted, indent: int) -> list[str]:
    pad = " " * indent
    return [f"{pad}# {comment_text(c)}" for c in noted.comments]


def _unwrap(value: Any) -> tuple[Any, Noted | None]:
    return (value.value, value) if isinstance(value, Noted) else (value, None)


def _is_block(value: Any) -> bool:
    return isinstance(value, dict | list) and bool(value)


def _block(data: Any, indent: int) -> list[str]:
    pad = " " * indent
    out: list[str] = []
    if isinstance(data, dict):
        for key, raw in data.items():
            value, noted = _unwrap(raw)
            if noted:
                out += _comments(noted, indent)
            if _is_block(value):
                out.append(f"{pad}{scalar(key)}:")
                out += _block(value, indent + 2)
            else:
                out.append(f"{pad}{scalar(key)}: {_flow(value)}")
        return out
    for raw in data:
        value, noted = _unwrap(raw)
        if noted:
            out += _comments(noted, indent)
        if isinstance(value, dict) and value:
            inner = _block(value, indent + 2)
            # the first line of the mapping (after its comments) goes on the dash line
            first = next(i for i, line in enumerate(inner) if not line.lstrip().startswith("#"))
            out += inner[:first]
            out.append(f"{pad}- {inner[first].lstrip()}")
            out += inner[first + 1 :]
        elif isinstance(value, list) and value:
            out.append(f"{pad}-")
            out += _block(value, indent + 2)
        else:
            out.append(f"{pad}- {_flow(value)}")
    return out


def _flow(value: Any) -> str:
    if isinstance(value, dict | list):
        plain = _plain(value)
        return yaml.safe_dump(plain, default_flow_style=True, width=10_000, allow_unicode=True).strip()
    return scalar(value)


def _plain(value: Any) -> Any:
    value, _ = _unwrap(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
