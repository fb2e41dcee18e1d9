"""Health checks from the commands and sentences of a document.

`curl -f https://api.acme.io/health` → an http check; `psql … -c "SELECT 1"` or `pg_isready` → postgres;
`redis-cli … ping` → redis; `docker compose ps`, `kubectl get pods -n production`, `systemctl is-active X`
→ command checks; a certificate renewal note → a TLS expiry check of the team's public host; "the health
check passes" → the http check (a placeholder one if the document gives no URL). Secrets and example
hosts become `${VARIABLES}`.
"""

from __future__ import annotations

import re
import shlex
from typing import Any
from urllib.parse import urlsplit

from opsbook.docimport import placeholders
from opsbook.docimport.model import Check, Draft
from opsbook.docimport.statements import Statement
from opsbook.docimport.words import (
    WORD_NUMBERS,
    clock_time,
    duration_text,
    env_name,
    seconds,
    slug,
    threshold,
    time_zone,
)

_HEALTH_PATH = re.compile(r"health|status|ping|ready|live|alive|heartbeat|/up\b", re.IGNORECASE)
_HEALTH_WORDS = re.compile(r"health|check|verify|status|smoke|up\b|alive|connectiv", re.IGNORECASE)
_WRAPPERS = ("sudo", "time", "watch", "timeout")
_CERT = re.compile(r"\b(certificates?|certs?|ssl|tls)\b", re.IGNORECASE)
_CERT_CARE = re.compile(r"renew|expir|rotat|update|valid|replace", re.IGNORECASE)


def recognise(statements: list[Statement], draft: Draft) -> None:
    """Checks from commands first, then from sentences (a URL of a health endpoint, certificates)."""
    for index, statement in enumerate(statements):
        if statement.kind == "command":
            _command(index, statement, statements, draft)
        elif statement.kind in ("item", "row", "text"):
            for code in statement.code:
                _command(index, statement, statements, draft, code)
        elif statement.lang in ("sql", "psql", "postgresql") and re.fullmatch(
            r"select\s+1\s*;?", statement.text, re.I
        ):
            check = postgres_check(draft, statement)
            draft.mark(index, statement, "mapped", f"postgres check {check.service}/{check.name}")
    for index, statement in enumerate(statements):
        if statement.kind in ("item", "text", "row", "line") and not placeholders.bracketed(statement.full):
            _sentence_url(index, statement, draft)
            if index not in draft.fates:
                _heartbeat(index, statement, draft)
    for index, statement in enumerate(statements):
        if (
            statement.kind in ("item", "text", "row", "line", "comment")
            and _CERT.search(statement.full)
            and _CERT_CARE.search(statement.full)
            and threshold(statement.full) is None  # "expires in less than 21 days" is a rule: alerts reads it
        ):
            tls = tls_check(draft, statement)
            draft.mark(index, statement, "mapped", f"TLS expiry check {tls.service}/{tls.name}")


def health_sentences(statements: list[Statement], draft: Draft) -> None:
    """'Health check passes', 'the health endpoint answers': the http check (after alerts had their say)."""
    for index, statement in enumerate(statements):
        if index in draft.fates or statement.kind not in ("item", "text", "line", "row"):
            continue
        if (statement.kind == "row" and not statement.cells) or placeholders.bracketed(statement.full):
            continue
        text = statement.full.lower()
        if re.search(r"health[- ]checks?\b|\bhealthcheck\b|health endpoint", text) and len(text) < 120:
            check = http_check(draft, statement)
            draft.mark(index, statement, "mapped", f"the http check {check.service}/{check.name}")


def _tokens(command: str) -> list[str]:
    try:
        return shlex.split(command, comments=False)
    except ValueError:
        return command.split()


def _strip_wrappers(tokens: list[str]) -> list[str]:
    """`sudo`, `docker exec CONTAINER`, `kubectl exec POD --`, `ssh HOST` before the real command."""
    while tokens:
        head = tokens[0]
        if head in _WRAPPERS:
            tokens = tokens[1:]
            while tokens and tokens[0].startswith("-"):
                tokens = tokens[1:]
            if tokens and head == "timeout" and re.fullmatch(r"\d+[smh]?", tokens[0]):
                tokens = tokens[1:]
        elif head in ("docker", "podman") and len(tokens) > 2 and tokens[1] == "exec":
            rest = [t for t in tokens[2:]]
            while rest and rest[0].startswith("-"):
                rest = rest[2:] if rest[0] in ("-e", "-u", "-w", "--user", "--env") else rest[1:]
            tokens = rest[1:]
        elif head == "kubectl" and "exec" in tokens and "--" in tokens:
            tokens = tokens[tokens.index("--") + 1 :]
        elif head == "ssh" and len(tokens) > 2:
            rest = tokens[1:]
            while rest and rest[0].startswith("-"):
                rest = rest[1:]
            tokens = rest[1:]
        else:
            break
    return tokens


def _command(
    index: int, statement: Statement, statements: list[Statement], draft: Draft, code: str = ""
) -> None:
    text = code or statement.text
    if placeholders.bracketed(text):
        return
    tokens = _strip_wrappers(_tokens(text))
    if not tokens:
        return
    tool = tokens[0].rsplit("/", 1)[-1]
    context = " ".join(
        (
            _comment_before(index, statements),
            statement.context,
            statement.heading(),
            *statement.header,
            statement.text if code else "",
        )
    )
    found: Check | None = None
    if tool in ("curl", "wget", "http", "https"):
        found = _http_from_command(tokens, context, draft, statement)
    elif (tool == "psql" and re.search(r"select\s+1\b", text, re.IGNORECASE)) or tool == "pg_isready":
        found = _postgres(tokens, draft, statement)
    elif tool == "redis-cli" and tokens[-1].lower() == "ping":
        found = _redis(tokens, draft, statement)
    elif _is_status_command(tokens) and _HEALTH_WORDS.search(context) and not _endless(tokens):
        found = _command_check(tokens, text, draft, statement)
    named = _row_service(statement)
    if found is not None and named and found.source is statement and draft.checks.count(found) == 1:
        found.service = named  # the service the table names
    if found is not None:
        draft.mark(index, statement, "mapped", f"{found.kind} check {found.service}/{found.name}")


def _row_service(statement: Statement) -> str:
    """In a table whose first column names services, the row's service."""
    if statement.kind != "row" or not statement.cells or not statement.header:
        return ""
    if not re.search(r"service|component|system|app|name", statement.header[0], re.I):
        return ""
    return slug(statement.cells[0], "")


def _comment_before(index: int, statements: list[Statement]) -> str:
    for back in range(index - 1, max(-1, index - 4), -1):
        earlier = statements[back]
        if earlier.block != statements[index].block:
            break
        if earlier.kind == "comment":
            return earlier.text
    return ""


def _http_from_command(tokens: list[str], context: str, draft: Draft, statement: Statement) -> Check | None:
    urls = [t for t in tokens if re.match(r"https?://", t)]
    if not urls:
        return None
    methods = [tokens[i + 1].upper() for i, t in enumerate(tokens[:-1]) if t in ("-X", "--request")]
    if methods and methods[0] not in ("GET", "HEAD"):
        return None
    url = urls[0]
    if not (_HEALTH_PATH.search(urlsplit(url).path or "") or _HEALTH_WORDS.search(context)):
        return None
    return add_http(draft, url, statement)


def _sentence_url(index: int, statement: Statement, draft: Draft) -> None:
    text = statement.full
    for url in re.findall(r"https?://[^\s)>\]`'\"]+", text):
        url = url.rstrip(".,;:")
        answers = re.search(
            r"return\w*\s+(a\s+)?(200|2xx)|status\s+200|200 ok|must (respond|answer)|is up\b", text, re.I
        )
        if (answers or _HEALTH_PATH.search(urlsplit(url).path or "")) and re.search(
            r"health|check|endpoint|monitor|poll|probe|uptime|\bhit\b|watch|status|return|respond|answer",
            text,
            re.IGNORECASE,
        ):
            check = add_http(draft, url, statement)
            draft.mark(index, statement, "mapped", f"http check {check.service}/{check.name}")


_PINGS = re.compile(
    r"heartbeat|\bpings?\b.*\b(healthchecks|opsbook|monitor|dead man|cronitor)|dead man'?s switch", re.I
)


def _heartbeat(index: int, statement: Statement, draft: Draft) -> None:
    """'The nightly job pings healthchecks at 04:00', 'backup heartbeat every 6 hours' → a heartbeat check."""
    text = statement.full
    if not _PINGS.search(text):
        return
    fields: dict[str, Any] = {}
    at = clock_time(text) or _bare_clock(text)
    every = re.search(r"\bevery\s+(\d+\s*(?:m|min|minutes?|h|hours?))\b", text, re.I) or re.search(
        r"\bheartbeat\s+(?:for|in|within)\s+(\d+\s*(?:m|min|minutes?|h|hours?))\b", text, re.I
    )
    if re.search(r"\b(nightly|daily|every (day|night))\b", text, re.I) and at is not None:
        fields["cron"] = f"{at % 60} {at // 60} * * *"
        zone = time_zone(text)
        if zone:
            fields["timezone"] = zone[0]
    elif every and seconds(every.group(1)):
        fields["period"] = duration_text(seconds(every.group(1)) or 0)
    else:
        return
    silent = re.search(
        r"\b(?:the\s+)?([\w -]{2,30}?)\s+(?:has not|hasn't|does not|doesn't|stops?|misses)\b", text, re.I
    )
    subject = (
        re.sub(r"heartbeats?", "", statement.label, flags=re.I).strip()
        if statement.label
        else (
            re.sub(r"^(page|alert|notify|warn)\b.*?\b(if|when)\s+(the\s+)?", "", silent.group(1), flags=re.I)
            if silent
            else "jobs"
        )
    )
    service = slug(subject or "jobs", "jobs")
    check = Check(
        statement,
        ["the job pings opsbook's ping URL (opsbook check list shows it) instead"],
        service=service,
        name=_free(draft, service, "heartbeat"),
        kind="heartbeat",
        fields=fields,
        target="heartbeat",
    )
    draft.checks.append(check)
    draft.mark(index, statement, "mapped", f"heartbeat check {check.service}/{check.name}")


def _bare_clock(text: str) -> int | None:
    bare = re.search(r"(?<![\d:])([01]?\d|2[0-3]):([0-5]\d)(?![\d:])", text)
    return int(bare.group(1)) * 60 + int(bare.group(2)) if bare else None


def service_for_host(host: str) -> str:
    labels = [label for label in host.lower().split(".") if label]
    if not labels or re.fullmatch(r"[\d.]+", host) or labels[0] in ("localhost", "127"):
        return "app"
    if len(labels) > 2 and labels[0] not in ("www",):
        return slug(labels[0], "web")
    return "web"


def add_http(draft: Draft, url: str, statement: Statement | None) -> Check:
    """The http check of `url` (one per URL): an example host becomes ${SERVICE_HOST}."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        parts, host = urlsplit(""), ""
    service = service_for_host(host)
    shown = url
    if placeholders.is_example_host(host) or not host:
        variable = draft.variable(
            f"{env_name(service)}_HOST",
            f"host name of {service} (the document says {host or url})",
            statement,
        )
        netloc = parts.netloc.replace(host, variable) if host else variable
        shown = parts._replace(netloc=netloc).geturl()
    for check in draft.checks_of_kind("http"):
        if check.fields.get("url") == shown:
            return check
    name = slug(parts.path.rstrip("/").rsplit("/", 1)[-1], "http") if parts.path.strip("/") else "http"
    check = Check(
        statement,
        service=service,
        name=_free(draft, service, name),
        kind="http",
        fields={"url": shown},
        target=url,
    )
    every = _interval(statement)
    if every:
        check.fields["interval"] = every
    draft.checks.append(check)
    return check


_EVERY = re.compile(
    rf"\bevery\s+((?:(?:\d+|{'|'.join(WORD_NUMBERS)})\s*)?(?:s|sec|secs|seconds?|m|min|mins|minutes?))\b",
    re.I,
)


def _interval(statement: Statement | None) -> str | None:
    """'polls … every thirty seconds', an Interval column: how often the check runs."""
    if statement is None:
        return None
    said = ""
    for title, cell in zip(statement.header, statement.cells, strict=False):
        if re.search(r"interval|frequency|every|period", title, re.I):
            said = cell
    match = _EVERY.search(statement.full)
    if not said and match:
        said = match.group(1) if re.match(r"\d|\w+\s", match.group(1)) else f"1 {match.group(1)}"
    found = seconds(said) if said else None
    return duration_text(found) if found and found >= 1 else None


def http_check(draft: Draft, statement: Statement | None, subject: str = "") -> Check:
    """The http check a statement about "the API" or "the health check" means (a placeholder if none)."""
    known = draft.checks_of_kind("http")
    for check in known:
        if subject and check.service in subject.lower().split():
            return check
    if known:
        return known[0]
    service = "api" if "api" in subject.lower().split() else "app"
    hint = f"URL of {service}'s health endpoint (the document names none)"
    return _stand_in(draft, statement, "http", service, "health", "url", hint)


def _postgres(tokens: list[str], draft: Draft, statement: Statement) -> Check:
    known = draft.checks_of_kind("postgres")
    if known:
        return known[0]
    flags = _flags(
        tokens,
        {
            "-U": "user",
            "--username": "user",
            "-d": "database",
            "--dbname": "database",
            "-h": "host",
            "--host": "host",
            "-p": "port",
            "--port": "port",
        },
    )
    said = ", ".join(f"{k} {v}" for k, v in flags.items()) or "no connection details"
    dsn = draft.variable(
        "DATABASE_URL", f"postgresql://USER:PASSWORD@HOST:5432/DB (the document: {said})", statement
    )
    check = Check(
        statement, service="db", name="select-1", kind="postgres", fields={"dsn": dsn}, target="SELECT 1"
    )
    draft.checks.append(check)
    return check


def postgres_check(draft: Draft, statement: Statement | None) -> Check:
    known = draft.checks_of_kind("postgres")
    hint = "postgresql://USER:PASSWORD@HOST:5432/DB (the document names none)"
    return known[0] if known else _stand_in(draft, statement, "postgres", "db", "select-1", "dsn", hint)


def _redis(tokens: list[str], draft: Draft, statement: Statement) -> Check:
    known = draft.checks_of_kind("redis")
    if known:
        return known[0]
    flags = _flags(tokens, {"-h": "host", "-p": "port", "-a": "password", "--pass": "password", "-u": "url"})
    fields: dict[str, str] = {"url": draft.variable("REDIS_URL", "redis://HOST:6379/0", statement)}
    password = flags.get("password", "")
    named = re.fullmatch(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", password)
    if named:
        fields["password"] = draft.variable(
            named.group(1), "the Redis password (named so in the document)", statement
        )
    elif password:
        fields["password"] = draft.variable(
            "REDIS_PASSWORD", "the Redis password (written literally in the document: not copied)", statement
        )
    check = Check(statement, service="redis", name="ping", kind="redis", fields=fields, target="PING")
    draft.checks.append(check)
    return check


def redis_check(draft: Draft, statement: Statement | None) -> Check:
    known = draft.checks_of_kind("redis")
    return (
        known[0]
        if known
        else _stand_in(draft, statement, "redis", "redis", "ping", "url", "redis://HOST:6379/0")
    )


def _stand_in(
    draft: Draft, statement: Statement | None, kind: str, service: str, name: str, field: str, hint: str
) -> Check:
    """A check the document implies but gives no target for: its target is a variable to fill in."""
    variable = {"postgres": "DATABASE_URL", "redis": "REDIS_URL"}.get(kind, f"{env_name(service)}_HEALTH_URL")
    value = draft.variable(variable, hint, statement)
    check = Check(
        statement,
        ["the document gives no target: fill in the variable"],
        service=service,
        name=name,
        kind=kind,
        fields={field: value},
        target=f"{kind} of {service}",
    )
    draft.checks.append(check)
    return check


def _flags(tokens: list[str], names: dict[str, str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for i, token in enumerate(tokens):
        for flag, key in names.items():
            if token == flag and i + 1 < len(tokens):
                found.setdefault(key, tokens[i + 1])
            elif token.startswith(flag + "=") or (
                len(flag) == 2 and token.startswith(flag) and len(token) > 2 and not token.startswith("--")
            ):
                found.setdefault(key, token[len(flag) :].lstrip("="))
    return found


def _is_status_command(tokens: list[str]) -> bool:
    words = [t for t in tokens if not t.startswith("-")]
    joined = " ".join(words[:4])
    return bool(
        re.match(
            r"(docker compose ps|docker-compose ps|docker ps|kubectl get (pods|po|deployments?|"
            r"nodes)|systemctl (is-active|status)|supervisorctl status|pm2 status)",
            joined,
        )
    )


def _endless(tokens: list[str]) -> bool:
    """`--watch`, `-w`, `-f`, `--follow`: a command that never exits is no check."""
    return any(t in ("-w", "--watch", "-f", "--follow") for t in tokens)


def _command_check(tokens: list[str], text: str, draft: Draft, statement: Statement) -> Check:
    for check in draft.checks_of_kind("command"):
        if check.fields.get("command") == text:
            return check
    tool = tokens[0]
    service = {"kubectl": "kubernetes", "systemctl": "systemd"}.get(
        tool, "docker" if "docker" in tool else tool
    )
    name = slug(" ".join(t for t in tokens[1:] if not t.startswith("-"))[:40], "status")
    check = Check(
        statement,
        ["the check passes when the command exits 0"],
        service=slug(service, "host"),
        name=_free(draft, slug(service, "host"), name),
        kind="command",
        fields={"command": text},
        target=text,
    )
    draft.checks.append(check)
    return check


def tls_check(draft: Draft, statement: Statement | None) -> Check:
    """The TLS expiry check of the team's public host (the first https check's), one per host."""
    https = [c for c in draft.checks_of_kind("http") if str(c.fields.get("url", "")).startswith("https://")]
    if https:
        host = urlsplit(str(https[0].fields["url"])).netloc
        service = https[0].service
    else:
        host = draft.variable("TLS_HOST", "the host name whose certificate expiry is watched", statement)
        service = "web"
    for check in draft.checks_of_kind("tls"):
        if check.fields.get("host") == host:
            return check
    check = Check(
        statement,
        ["down 14 days before the certificate expires (min_days_left)"],
        service=service,
        name=_free(draft, service, "tls"),
        kind="tls",
        fields={"host": host},
        target=f"{host} certificate",
    )
    draft.checks.append(check)
    return check


def host_check(draft: Draft, statement: Statement | None) -> Check:
    known = draft.checks_of_kind("host")
    if known:
        return known[0]
    check = Check(
        statement,
        ["measures the machine opsbook runs on"],
        service="host",
        name="system",
        kind="host",
        target="this machine",
    )
    draft.checks.append(check)
    return check


def _free(draft: Draft, service: str, name: str) -> str:
    candidate, n = name, 2
    while draft.check_named(service, candidate) is not None:
        candidate, n = f"{name}-{n}", n + 1
    return candidate
