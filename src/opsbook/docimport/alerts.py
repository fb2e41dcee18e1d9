"""Alert rules from threshold tables, lists and sentences.

"Error rate > 10% for 5 minutes" → `error_rate > 10% over 5m for 5m` on the http check; "API p95 response
time > 500ms for 5 minutes" → `p95(latency_ms) > 500 for 5m`; "CPU utilization > 80% for 5 minutes" →
`cpu_pct > 80 for 5m` on a host check; "API health check failures (3+ consecutive failures)" →
`failures >= 3`. The severity is the statement's own (P1, or a severity word the document defines),
else its table column, its label (`**Critical Alerts (P0):**`) or its headings; who is paged (a table
column, "page the DBA") is kept as the rule's label `paged`. A window the document does not give is
assumed and said so in the rule's comment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from opsbook.docimport import checks
from opsbook.docimport.model import Check, Draft, Rule
from opsbook.docimport.statements import Statement
from opsbook.docimport.words import (
    Threshold,
    duration_text,
    hold_duration,
    number_text,
    severity,
    slug,
    threshold,
)
from opsbook.rules.severity import Severity

DEFAULT_WINDOW = "5m"
_CAPACITY = re.compile(r"capacity|scaling|growth|projection|forecast|current usage", re.IGNORECASE)
_FAILURES = re.compile(
    r"(\d+)\s*\+?\s*(?:or more\s+)?(?:consecutive|successive|failed|straight)?\s*"
    r"(?:health[- ]?check\s+)?(?:failures|failed checks|fails|failed probes|errors in a row)"
    r"|(?:fails?|failing)\s+(\d+)\s+times(?: in a row)?",
    re.IGNORECASE,
)
_DOWN = re.compile(
    r"\b(down|unreachable|unavailable|not responding|failures?|fails|failing|outage)\b", re.IGNORECASE
)
_PAGE = re.compile(
    r"\bpage[sd]?\s+(?:the\s+)?([\w\- +/&]+?)(?:\s+(?:if|when|after|immediately|within)\b|[,.;)]|$)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Metric:
    kind: str
    field: str
    words: str


_METRICS: list[tuple[re.Pattern[str], str, str]] = [
    (
        re.compile(
            r"latency|response[- ]time|request (time|duration)|slow (responses|requests)|\bttfb\b", re.I
        ),
        "http",
        "latency_ms",
    ),
    (
        re.compile(r"error[- ]rate|5xx|error ratio|errors? (percentage|share)|failure rate", re.I),
        "http",
        "error_rate",
    ),
    (re.compile(r"\bcpu\b|processor", re.I), "host", "cpu_pct"),
    (re.compile(r"redis\b.*\bmemory|memory\b.*\bredis", re.I), "redis", "used_memory_pct"),
    (re.compile(r"\bswap\b", re.I), "host", "swap_pct"),
    (re.compile(r"memory|\bram\b", re.I), "host", "memory_pct"),
    (re.compile(r"\bdisk\b|storage|\bvolume\b|file ?system|disk space|free space", re.I), "host", "disk_pct"),
    (re.compile(r"load average|\bload\b", re.I), "host", "load1"),
    (re.compile(r"(long|slow)[- ]running quer|slow quer|long quer", re.I), "postgres", "long_queries"),
    (
        re.compile(
            r"(database|db|postgres\w*|pool)\b.*connections|connections.*\b(database|db|postgres)", re.I
        ),
        "postgres",
        "connections_pct",
    ),
    (re.compile(r"redis\b.*clients|connected clients", re.I), "redis", "connected_clients"),
    (re.compile(r"certificate|\bcert\b|\btls\b|\bssl\b", re.I), "tls", "days_left"),
]
_PERCENT_FIELDS = {
    "error_rate",
    "cpu_pct",
    "memory_pct",
    "disk_pct",
    "swap_pct",
    "connections_pct",
    "used_memory_pct",
}
_SUBJECTS = [
    (re.compile(r"\b(database|db|postgres\w*|rds|sql)\b", re.I), "postgres"),
    (re.compile(r"\bredis|cache\b", re.I), "redis"),
    (re.compile(r"certificate|\bcert\b|\btls\b|\bssl\b", re.I), "tls"),
    (re.compile(r"\bapi\b|health[- ]?check|endpoint|website|\bsite\b|\bweb\b|\bapp\b|http", re.I), "http"),
]


def recognise(statements: list[Statement], draft: Draft) -> None:
    for index, statement in enumerate(statements):
        if statement.kind not in ("item", "text", "row", "line") or index in draft.fates:
            continue
        if statement.kind == "row" and not statement.cells:
            continue
        if _CAPACITY.search(" ".join((*statement.section, statement.context))):
            continue
        rule = _rule(statement, draft)
        if rule is not None:
            draft.rules.append(rule)
            shown = f" ({rule.severity.value})" if rule.severity else ""
            draft.mark(index, statement, "mapped", f"rule {rule.service}/{rule.name}: {rule.when}{shown}")


def _columns(statement: Statement) -> dict[str, str]:
    """A table row's cells by role: metric, threshold, duration, severity, paged."""
    roles: dict[str, str] = {}
    for title, cell in zip(statement.header, statement.cells, strict=False):
        lowered = title.lower()
        if re.search(r"sever|priority|level|sev\b", lowered):
            roles["severity"] = cell
        elif re.search(r"paged|who|notif|escalat|owner|contact|responder", lowered):
            roles["paged"] = cell
        elif re.search(r"duration|for\b|window|sustain|period", lowered):
            roles["duration"] = cell
        elif re.search(r"threshold|alert|when|condition|limit|trigger|value", lowered):
            roles["threshold"] = cell
        else:
            roles.setdefault("metric", cell)
    return roles


def _rule(statement: Statement, draft: Draft) -> Rule | None:
    if statement.kind == "row":
        roles = _columns(statement)
        if "threshold" not in roles:
            return None
        text = " ".join(v for k, v in roles.items() if k in ("metric", "threshold", "duration"))
        own_severity = roles.get("severity", "")
        paged = roles.get("paged", "")
    else:
        text, own_severity = statement.full, ""
        found = _PAGE.search(text)
        paged = found.group(1).strip() if found else ""
    rule = _failures_rule(text, statement, draft) or _threshold_rule(text, statement, draft)
    if rule is None:
        return None
    rule.severity = _severity(statement, own_severity, text, draft, rule)
    rule.paged = paged
    return rule


def _severity(statement: Statement, own: str, text: str, draft: Draft, rule: Rule) -> Severity | None:
    glossary = draft.glossary
    for place in (
        own,
        text,
        statement.label,
        statement.context,
        statement.parent,
        *reversed(statement.section),
    ):
        if place:
            found = severity(place, glossary)
            if found is not None:
                return found
    rule.notes.append("no severity named: alerting.default_severity applies")
    return None


def _failures_rule(text: str, statement: Statement, draft: Draft) -> Rule | None:
    match = _FAILURES.search(text)
    count_given = match is not None
    if match is None:
        if not _DOWN.search(text) or threshold(text) is not None:
            return None
        if not re.search(
            r"\b(down|unreachable|unavailable|not responding|outage|"
            r"(check|connection|connectivity|ping|probe)\s+failures?)\b",
            text,
            re.I,
        ):
            return None
    subject = _subject(text)
    if subject is None:
        return None
    check = _check_for(subject, text, draft, statement)
    count = int(match.group(1) or match.group(2)) if match else 3
    rule = Rule(statement, service=check.service, check=check.name, when=f"failures >= {count}")
    if not count_given:
        rule.notes.append("the document gives no count: 3 consecutive failures assumed")
    rule.name = _name(draft, check.service, text, "down")
    return rule


def _subject(text: str) -> str | None:
    for pattern, kind in _SUBJECTS:
        if pattern.search(text):
            return kind
    return None


def _check_for(kind: str, text: str, draft: Draft, statement: Statement) -> Check:
    if kind == "postgres":
        return checks.postgres_check(draft, statement)
    if kind == "redis":
        return checks.redis_check(draft, statement)
    if kind == "tls":
        return checks.tls_check(draft, statement)
    if kind == "host":
        return checks.host_check(draft, statement)
    return checks.http_check(draft, statement, text)


def _metric(text: str) -> tuple[str, str] | None:
    for pattern, kind, field in _METRICS:
        if pattern.search(text):
            return kind, field
    return None


def _threshold_rule(text: str, statement: Statement, draft: Draft) -> Rule | None:
    metric = _metric(text)
    limit = threshold(text)
    if metric is None or limit is None:
        return None
    kind, field = metric
    if field == "days_left" and limit.op not in ("<", "<="):
        return None
    if field != "days_left" and limit.op not in (">", ">="):
        return None  # "response time under 200 ms" is a target, not an alert
    if field in _PERCENT_FIELDS and limit.unit not in ("%", ""):
        return None
    if field == "connections_pct" and limit.unit != "%":
        return None
    notes: list[str] = []
    when = _when(field, limit, text, notes)
    if when is None:
        return None
    check = _check_for(kind, text, draft, statement)
    if kind == "postgres" and field in ("connections_pct", "long_queries"):
        measure = "connections" if field == "connections_pct" else "long_queries"
        measured = check.fields.setdefault("measure", [])
        if measure not in measured:
            measured.append(measure)
    if kind == "host" and re.search(r"database|\bdb\b", text, re.I):
        notes.append("measured on the machine opsbook runs on: set `mounts` to the database's volume")
    rule = Rule(statement, notes, service=check.service, check=check.name, when=when)
    rule.name = _name(draft, check.service, text, field)
    return rule


def _when(field: str, limit: Threshold, text: str, notes: list[str]) -> str | None:
    hold = hold_duration(text)
    hold_text = duration_text(hold) if hold else None
    value = limit.value
    if field == "latency_ms":
        value = value * 1000 if limit.unit == "s" else value
        if limit.unit == "":
            notes.append("no unit given: milliseconds assumed")
        percentile = re.search(r"\bp(\d{2}(?:\.\d+)?)\b", text, re.I)
        aggregate = f"p{percentile.group(1)}" if percentile else "avg"
        if hold_text:
            return f"{aggregate}(latency_ms) {limit.op} {number_text(value)} for {hold_text}"
        notes.append(f"the document gives no duration: measured over {DEFAULT_WINDOW}")
        return f"{aggregate}(latency_ms over {DEFAULT_WINDOW}) {limit.op} {number_text(value)}"
    if field == "error_rate":
        if hold_text:
            return f"error_rate {limit.op} {number_text(value)}% over {hold_text} for {hold_text}"
        notes.append(f"the document gives no duration: measured over {DEFAULT_WINDOW}")
        return f"error_rate {limit.op} {number_text(value)}% over {DEFAULT_WINDOW}"
    body = f"{field} {limit.op} {number_text(value)}"
    return f"{body} for {hold_text}" if hold_text else body


def _name(draft: Draft, service: str, text: str, fallback: str) -> str:
    words = re.split(
        r"\s*(?:>=|<=|>|<|≥|≤|\(|:|\babove\b|\bover\b|\bexceeds?\b|\bmore than\b|\bbelow\b|"
        r"\bunder\b|\s\d)",
        text,
        maxsplit=1,
    )[0]
    base = slug(words, fallback)[:40].strip("-") or fallback
    if base == "failures":
        base = "consecutive-failures"
    taken = {r.name for r in draft.rules if r.service == service}
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate
