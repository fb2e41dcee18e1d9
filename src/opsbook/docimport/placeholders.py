"""Placeholders a template leaves for its reader to fill in: `[YOUR_DEPLOY_COMMAND]`, `[3 people]`,
`<host>`, `example.com` hosts, `your-…` names. The importer turns each into a `${VARIABLE}` to export
and never guesses a value for one."""

from __future__ import annotations

import re

_BRACKETED = re.compile(r"\[(?P<inner>[^\]\[]{1,60})\](?!\()|<(?P<angle>[A-Za-z][\w\- ]{0,40})>")
_EXAMPLE_HOST = re.compile(
    r"(?:^|\.)(?:example\.(?:com|org|net)|[\w-]+\.example|localhost\.localdomain|[\w-]*your[\w-]*\.[\w.]+)$",
    re.IGNORECASE,
)


def bracketed(text: str) -> list[str]:
    """The placeholders in brackets or angle brackets, without the brackets."""
    return [m.group("inner") or m.group("angle") for m in _BRACKETED.finditer(text)]


def is_example_host(host: str) -> bool:
    """example.com, staging.example.org, api.example, your-company.com …"""
    return bool(_EXAMPLE_HOST.search(host.strip().lower().rstrip(".")))


def count(text: str) -> int | None:
    """`[3 people]`, `[2 engineers]` → 3, 2: a number of people to be named."""
    match = re.search(r"\[(\d{1,2})\s+(?:people|persons?|engineers?|humans|members)\]", text, re.IGNORECASE)
    return int(match.group(1)) if match else None
