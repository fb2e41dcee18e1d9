"""What the draft cannot hold, and what is not configuration at all.

- The team's time zone ("All times are Europe/Berlin") and the title (the first heading).
- An uptime target ("Uptime Target: 99.9%", "99.5% availability per quarter") becomes the availability
  objective (`slos:`) of the services the document probes over HTTP (`draft._slos`); a placeholder that
  offers several ("[99.9% / 99.99% / etc]") takes the first and says so.
- Statements about secrets, backups, capacity, database care, deploys and chores that `domains` and
  `windows` did not map (a link to another
  document, a growth projection, "Continuous" backups) are reported as understood but not mapped, with the
  domain each belongs to and its line.
- Commands, checklists and numbered steps under a heading are runbook procedures: `opsbook runbook
  import` reads them from the same document (the draft points `runbooks.folders` at it).
Everything no recogniser took is reported as not understood.
"""

from __future__ import annotations

import re

from opsbook.docimport.model import Draft, Target
from opsbook.docimport.statements import Statement
from opsbook.docimport.words import severities, threshold, time_zone

UPTIME = re.compile(
    r"\b(uptime|availability|slo)\b.*?(\d{2}(?:\.\d+)?)\s*%|(\d{2}(?:\.\d+)?)\s*%\s*(?:uptime|"
    r"availability)",
    re.I,
)
_DOMAINS: list[tuple[str, re.Pattern[str]]] = [
    (
        "recurring chores",
        re.compile(
            r"^(daily|weekly|monthly|quarterly|yearly|annually|every (day|week|month|"
            r"quarter|year)|each (day|week|month))\b",
            re.I,
        ),
    ),
    (
        "secrets",
        re.compile(
            r"secret|credential|password|api keys?|\bjwt\b|rotat\w* (of )?(keys?|tokens?)|"
            r"(key|token) rotation|encryption keys?",
            re.I,
        ),
    ),
    (
        "backups",
        re.compile(
            r"backup|snapshot|restor|\brto\b|\brpo\b|point[- ]in[- ]time|\bpitr\b|retention|"
            r"disaster recovery",
            re.I,
        ),
    ),
    (
        "database care",
        re.compile(r"vacuum|reindex|index optimi|analyze|bloat|query optimi|connection pool", re.I),
    ),
    (
        "capacity",
        re.compile(
            r"capacity|scaling|scale (up|out)|growth|projected|headroom|"
            r"forecast",
            re.I,
        ),
    ),
    ("deploys", re.compile(r"deploy|rollback|roll back|release|canary|hotfix", re.I)),
]
_DATA_LANGS = frozenset({"yaml", "yml", "json", "toml", "ini", "xml", "hcl", "conf", "properties", "promql"})
_CHORE_SECTIONS = re.compile(
    r"before your on-?call|start of (your )?shift|daily checks?|weekly checks?|"
    r"checklist",
    re.I,
)


def settings(statements: list[Statement], draft: Draft) -> None:
    """Title and time zone."""
    for index, statement in enumerate(statements):
        if statement.kind == "heading" and not draft.title:
            draft.title = statement.text
        if statement.kind in ("item", "text", "row") and re.search(
            r"time ?zone|all times|times are", statement.full, re.I
        ):
            zone = time_zone(statement.full)
            if zone and not draft.timezone:
                draft.timezone = zone[0]
                draft.mark(index, statement, "mapped", f"timezone {zone[0]}")


def recognise(statements: list[Statement], draft: Draft) -> None:
    for index, statement in enumerate(statements):
        if index in draft.fates or statement.kind == "heading":
            continue
        if statement.kind == "row" and not statement.cells:
            continue
        if statement.label and not statement.text:
            continue  # a label over a list or table: read as the context of what follows
        uptime = UPTIME.search(statement.full)
        if uptime:
            target = _target(statement, uptime.group(2) or uptime.group(3))
            draft.targets.append(target)
            objective = f"slos: availability {target.percent}% over {target.window}"
            draft.mark(index, statement, "mapped", objective)
            continue
        if statement.kind in ("command", "comment"):
            key = " › ".join(statement.section) or statement.file
            draft.procedures[key] = draft.procedures.get(key, 0) + 1
            draft.mark(index, statement, "mapped", "runbook step (opsbook runbook import reads it)")
            continue
        domain = _domain(statement)
        if domain:
            draft.mark(index, statement, "unsupported", domain)
            continue
        if statement.kind == "line" and statement.lang in _DATA_LANGS:
            draft.mark(index, statement, "unknown", "another tool's configuration")
            continue
        if statement.kind == "line" or _is_checklist_item(statement):
            key = " › ".join(statement.section) or statement.file
            draft.procedures[key] = draft.procedures.get(key, 0) + 1
            draft.mark(index, statement, "mapped", "runbook step (opsbook runbook import reads it)")
            continue
        draft.mark(index, statement, "unknown", _why(statement))


_WINDOWS = (("year", "365d"), ("annual", "365d"), ("quarter", "90d"), ("week", "7d"), ("month", "30d"))


def _target(statement: Statement, value: str) -> Target:
    """The objective a statement of an uptime target gives: its percentage and window (default 30 days)."""
    notes = []
    offered = re.findall(r"\d{2}(?:\.\d+)?\s*%", statement.full)
    if len(offered) > 1 and re.search(r"\[[^\]]*/", statement.full):
        choices = ", ".join(o.replace(" ", "") for o in offered)
        notes.append(f"the document offers {choices}: the first is taken")
    text = statement.full.lower()
    window = next((w for word, w in _WINDOWS if word in text), None)
    if window is None:
        notes.append("a rolling window of 30 days (the document names none)")
    notes.append("the target is of the services the document probes over HTTP")
    return Target(statement, notes, percent=value, window=window or "30d")


def _why(statement: Statement) -> str:
    """A hint at why a statement was not mapped, where one can be told."""
    text = statement.full
    if threshold(text) is not None:
        return "a threshold on something no opsbook check measures"
    if severities(text):
        return "names a severity but no response time, routing or rule"
    if re.search(r"https?://", text):
        return "a link"
    return ""


def _domain(statement: Statement) -> str:
    own = statement.full
    for name, pattern in _DOMAINS[1:]:
        if statement.label and pattern.search(statement.label):
            return name
    if _DOMAINS[0][1].search(statement.label or statement.text) or _DOMAINS[0][1].search(statement.text):
        return "recurring chores"
    if (
        statement.kind in ("line", "item")
        and _CHORE_SECTIONS.search(" ".join(statement.section[-1:]))
        and re.search(r"on-?call|shift", " ".join(statement.section), re.I)
    ):
        return "recurring chores"
    for name, pattern in _DOMAINS[1:]:
        if pattern.search(own):
            return name
    if statement.kind in ("command", "comment", "line"):
        return ""
    for title in reversed(statement.section):
        for name, pattern in _DOMAINS[1:]:
            if pattern.search(title):
                return name
    return ""


def _is_checklist_item(statement: Statement) -> bool:
    """A list item under a heading whose block holds checkboxes or commands: a runbook step."""
    if statement.kind != "item":
        return False
    source = statement.source
    return bool(re.match(r"^\s*[-*+]\s+\[[ xX]\]", source))
