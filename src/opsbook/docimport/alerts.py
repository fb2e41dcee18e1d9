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

from opsbook.docimport import checks
from opsbook.docimport.model import Check, Draft, Rule
from opsbook.docimport.statements import Statement
from opsbook.docimport.words import (
    Threshold,
    duration_text,
    hold_duration,
    number_text,
    seconds,
    severities,
    severity,
    slug,
    threshold,
)
from opsbook.rules.severity import Severity

DEFAULT_WINDOW = "5m"
_CAPACITY = re.compile(r"capacity|scaling|growth|projection|forecast|current usage", re.IGNORECASE)
_DOWN = re.compile(
    r"\b(down|unreachable|unavailable|not responding|failures?|fails|failing|outage)\b", re.IGNORECASE
)
_PAGE = re.compile(
    r"\bpage[sd]?\s+(?:the\s+)?([\w\- +/&]+?)(?:\s+(?:if|when|after|immediately|within)\b|[,.;)]|$)",
    re.IGNORECASE,
)


_METRICS: list[tuple[re.Pattern[str], str, str]] = [
    (
        re.compile(
            r"latency|response[- ]time|request (time|duration)|slow (responses|requests)|\bttfb\b"
            r"|\bp\d{2}(\.\d+)?\b",
            re.I,
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
    (
        re.compile(
            r"\bapi\b|health[- ]?check|endpoint|website|\bsite\b|\bweb\b|\bapp\b|http|home ?page"
            r"|front[- ]?end|landing page",
            re.I,
        ),
        "http",
    ),
]


def recognise(statements: list[Statement], draft: Draft) -> None:
    for index, statement in enumerate(statements):
        if statement.kind not in ("item", "text", "row", "line") or not _open(draft, index):
            continue
        if statement.kind == "row" and not statement.cells:
            continue
        if _CAPACITY.search(" ".join((*statement.section, statement.context))):
            continue
        for rule in _rules(statement, draft):
            draft.rules.append(rule)
            shown = f" ({rule.severity.value})" if rule.severity else ""
            draft.mark(index, statement, "mapped", f"rule {rule.service}/{rule.name}: {rule.when}{shown}")


def _open(draft: Draft, index: int) -> bool:
    """Not yet read, or read only as naming a check ("https://…/health fails 3 times in a row")."""
    fate = draft.fates.get(index)
    return fate is None or bool(re.match(r"(the )?\w+ check |TLS expiry check", fate.what))


_THRESHOLD_COLUMN = re.compile(r"threshold|alert|when|condition|limit|trigger|value|fires|rule")


def _columns(statement: Statement) -> dict[str, str]:
    """A table row's cells by role: metric (the first column), threshold, duration, severity, paged."""
    roles: dict[str, str] = {}
    for position, (title, cell) in enumerate(zip(statement.header, statement.cells, strict=False)):
        lowered = title.lower()
        if re.search(r"runbook|playbook|procedure|what to do|response steps", lowered):
            roles["runbook"] = cell
        elif re.search(r"sever|priority|level|sev\b", lowered):
            roles["severity"] = cell
        elif re.search(r"paged|who|notif|escalat|owner|contact|responder", lowered):
            roles["paged"] = cell
        elif position and re.search(r"threshold|condition|trigger|limit", lowered):
            roles.setdefault("threshold", cell)
        elif re.search(r"duration|for\b|window|sustain|period", lowered):
            roles["duration"] = cell
        elif position and _THRESHOLD_COLUMN.search(lowered):
            roles.setdefault("threshold", cell)
        else:
            roles.setdefault("metric", cell)
    return roles


_CLAUSES = re.compile(r";|\.\s+|,\s*(?:and|while|but|or)\s+|\s+and\s+(?=so\b|also\b|if\b|when\b)", re.I)


def _rules(statement: Statement, draft: Draft) -> list[Rule]:
    """The rules a statement states: one per table row, one per clause of a sentence."""
    if statement.kind == "row":
        by_severity = _severity_columns(statement, draft)
        if by_severity:
            return by_severity
        roles = _columns(statement)
        if "threshold" not in roles:
            return []
        text = f"{roles.get('metric', '')} {roles['threshold']}"
        if roles.get("duration") and seconds(roles["duration"]):
            text += f" for {roles['duration']}"
        rule = _one(text, roles.get("metric", ""), statement, draft)
        if rule is None:
            return []
        rule.severity = _severity(statement, roles.get("severity", ""), "", draft, rule)
        rule.paged = roles.get("paged", "")
        rule.runbook = re.sub(
            r"^(see|run|follow)\s+", "", roles.get("runbook", "").strip(), flags=re.I
        ).strip('"“”')
        return [rule]
    found = _PAGE.search(statement.full)
    paged = found.group(1).strip() if found else ""
    clauses = [c for c in _CLAUSES.split(statement.full) if c and c.strip()]
    rules = []
    for clause in clauses if len(clauses) > 1 else [statement.full]:
        rule = _one(clause, clause, statement, draft)
        if rule is None:
            continue
        own = severity(clause, draft.glossary) if severities(clause) else None
        rule.severity = own or _severity(statement, "", statement.full, draft, rule)
        rule.paged = paged
        rules.append(rule)
    return rules


def _severity_columns(statement: Statement, draft: Draft) -> list[Rule]:
    """| Metric | Warning | Critical |: one rule per severity column, each with that column's threshold."""
    columns = [
        (position, sev, title)
        for position, title in enumerate(statement.header)
        if position and (sev := severity(title, draft.glossary)) is not None and threshold(title) is None
    ]
    if not columns:
        return []
    roles = _columns(statement)
    metric = statement.cells[0] if statement.cells else ""
    hold = f" for {roles['duration']}" if roles.get("duration") and seconds(roles["duration"]) else ""
    rules = []
    for position, sev, title in columns:
        cell = statement.cells[position] if position < len(statement.cells) else ""
        if not cell.strip() or threshold(cell) is None:
            continue
        rule = _one(f"{metric} {cell}{hold}", f"{metric} {title}", statement, draft)
        if rule is None:
            continue
        rule.severity = sev
        if not severities(title) and title.lower().strip() not in draft.defined:
            rule.notes.append(f"the column '{title}' read as {sev.value}, opsbook's meaning")
        rule.paged = roles.get("paged", "")
        rules.append(rule)
    return rules


def _one(text: str, subject: str, statement: Statement, draft: Draft) -> Rule | None:
    rule = _failures_rule(text, statement, draft) or _threshold_rule(text, statement, draft)
    if rule is not None:
        rule.name = _name(draft, rule, subject, statement)
    return rule


def _severity(statement: Statement, own: str, text: str, draft: Draft, rule: Rule) -> Severity | None:
    """The rule's own severity (a table cell, its sentence), else its label's, parent's or headings'.

    In the rule's own words only the severity words the document defines count ("High CPU" is no P1);
    around it, opsbook's meaning of critical / warning / info also does, and the draft says so."""
    defined = {w: s for w, s in draft.glossary.items() if w in draft.defined}
    places = [(own, draft.glossary), (text, defined)]
    places += [(p, draft.glossary) for p in (statement.label, statement.context, statement.parent)]
    places += [(p, draft.glossary) for p in reversed(statement.section)]
    for place, glossary in places:
        found = severity(place, glossary) if place else None
        if found is None:
            continue
        if not severities(place):
            word = next((w for w in glossary if re.search(rf"\b{re.escape(w)}s?\b", place, re.I)), "")
            if word and word not in draft.defined:
                rule.notes.append(
                    f"'{word}' read as {found.value}, opsbook's meaning (the document does not define it)"
                )
        return found
    rule.notes.append("no severity named: alerting.default_severity applies")
    return None


_FAILURE_COUNTS = [
    re.compile(
        r"(\d+)\s*\+?\s*(?:or more\s+)?(?:consecutive|successive|straight|failed|failing)\b"
        r"[\w\s-]{0,30}?\b(?:failures|checks|probes|pings|requests|times|fails)\b",
        re.I,
    ),
    re.compile(r"(\d+)\s*\+?\s*(?:consecutive\s+)?(?:health[- ]?check\s+)?failures\b", re.I),
    re.compile(r"\bfail(?:s|ed|ing)?\s+(\d+)\s+times\b", re.I),
]


def _failures_rule(text: str, statement: Statement, draft: Draft) -> Rule | None:
    match = next((m for m in (p.search(text) for p in _FAILURE_COUNTS) if m), None)
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
    held = duration_text(hold_duration(text) or 0) if match is None else None
    if held:  # "down for 2 minutes": failing at every evaluation for that long
        return Rule(statement, service=check.service, check=check.name, when=f"failures >= 1 for {held}")
    count = int(match.group(1)) if match else 3
    rule = Rule(statement, service=check.service, check=check.name, when=f"failures >= {count}")
    if match is None:
        rule.notes.append("the document gives no count: 3 consecutive failures assumed")
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
    """What the text measures: the metric named first in it."""
    best: tuple[int, str, str] | None = None
    for pattern, kind, field in _METRICS:
        match = pattern.search(text)
        if match and (best is None or match.start() < best[0]):
            best = (match.start(), kind, field)
    return (best[1], best[2]) if best else None


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
    return Rule(statement, notes, service=check.service, check=check.name, when=when)


def _when(field: str, limit: Threshold, text: str, notes: list[str]) -> str | None:
    hold = hold_duration(text) if field != "days_left" else None
    hold_text = duration_text(hold) if hold else None
    value = limit.value
    if field == "latency_ms":
        value = value * 1000 if limit.unit == "s" else value
        if limit.unit == "":
            notes.append("no unit given: milliseconds assumed")
        aggregate = _aggregate(text)
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


_LEAD_IN = re.compile(
    r"^(?:(?:page|alert|notify|wake|call|ping|warn)\b.*?\b(?:if|when|once|whenever)\s+|(?:if|when|once|whenever)\s+)?"
    r"(?:the\s+)?",
    re.I,
)
_FIELD_NAMES = {
    "latency_ms": "latency",
    "error_rate": "error-rate",
    "cpu_pct": "cpu",
    "memory_pct": "memory",
    "disk_pct": "disk",
    "swap_pct": "swap",
    "load1": "load",
    "long_queries": "long-queries",
    "connections_pct": "connections",
    "used_memory_pct": "memory",
    "connected_clients": "clients",
    "days_left": "certificate",
}


def _aggregate(text: str) -> str:
    """p95 / '95th percentile' / median / max / average (the default) of the latencies."""
    percentile = re.search(
        r"\bp(\d{2}(?:\.\d+)?)\b|\b(\d{2}(?:\.\d+)?)(?:th|st|nd|rd)?[- ]percentile", text, re.I
    )
    if percentile:
        return f"p{percentile.group(1) or percentile.group(2)}"
    if re.search(r"\bmedian\b", text, re.I):
        return "p50"
    if re.search(r"\b(max|maximum|peak|worst)\b", text, re.I):
        return "max"
    return "avg"


def _name(draft: Draft, rule: Rule, subject: str, statement: Statement) -> str:
    """A row's or list item's own words for the metric ('api-p95-response-time'); for a sentence, what it
    measures ('p99-latency', 'down')."""
    subject = re.sub(r"\[[^\]]*\]|\b(?:P|SEV[- ]?)[0-4]\b", " ", subject, flags=re.I).strip()
    subject = _LEAD_IN.sub("", subject)
    words = re.split(
        r"\s*(?:>=|<=|>|<|≥|≤|\(|:|\babove\b|\bover\b|\bexceeds?\b|\bpasses\b|\breaches\b|\bhits\b|\bcrosses\b"
        r"|\bmore than\b|\bbelow\b|\bunder\b|\b(?:in )?less than\b|\bfewer than\b|\bgoes\b|\bis\b|\bare\b"
        r"|\bfor\b|\s\d)",
        subject,
        maxsplit=1,
    )[0]
    if statement.kind == "row" and 0 < len(subject.split()) <= 6:
        base = slug(subject, "rule")[:40].strip("-")
    elif statement.kind in ("item", "line") and 0 < len(words.split()) <= 6:
        base = slug(words, "rule")[:40].strip("-")
    else:
        expr = rule.when
        field = next((f for f in _FIELD_NAMES if f in expr), "")
        percentile = re.match(r"(p\d+|avg)\(latency_ms", expr)
        base = "down" if expr.startswith("failures") else _FIELD_NAMES.get(field, "rule")
        if percentile:
            base = f"{percentile.group(1)}-latency"
    if base == "failures":
        base = "consecutive-failures"
    if re.fullmatch(r"p\d{2}(-\d+)?", base):
        base += "-latency"
    if rule.when.startswith("failures") and not re.search(r"down|fail|unreach|outage|error", base):
        base = f"{base}-down" if base != "rule" else "down"
    taken = {r.name for r in draft.rules if r.service == rule.service}
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate
