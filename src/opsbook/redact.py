"""Keeps secrets out of logs, API output and the terminal: passwords in DSNs, tokens in URLs and text."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]+)@")
_SECRET_QUERY = re.compile(
    r"(?P<key>[?&](?:password|passwd|pass|pwd|token|access_token|api_key|apikey|key|secret|signature|sig|auth)=)"
    r"(?P<value>[^&#\s]+)",
    re.IGNORECASE,
)
MASK = "***"
SECRET_NAME = re.compile(r"PASS|SECRET|TOKEN|KEY|AUTH|CREDENTIAL|DSN|WEBHOOK|PRIVATE", re.IGNORECASE)
"""A variable whose name matches holds a secret (DB_PASSWORD, SLACK_WEBHOOK_URL, PD_ROUTING_KEY…)."""
_NOT_SECRET = {"true", "false", "yes", "no", "none", "null", "on", "off"}
_env_cache: tuple[int, frozenset[str]] | None = None


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask DSN passwords, secret-looking query parameters and every literal secret given."""
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    text = _SECRET_QUERY.sub(lambda m: f"{m['key']}{MASK}", text)
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def _secret_values(name: str, value: str) -> Iterable[str]:
    if SECRET_NAME.search(name):
        plain = value.strip()
        if len(plain) >= 6 and plain.lower() not in _NOT_SECRET and not plain.startswith("/"):
            yield plain
    for match in _USERINFO.finditer(value):  # DATABASE_URL=postgresql://app:<password>@db/app
        if len(match["pw"]) >= 4:
            yield match["pw"]


def environment_secrets(environ: Mapping[str, str] | None = None) -> frozenset[str]:
    """Every secret in opsbook's own environment, named in opsbook.yaml or not: the values of
    secret-named variables and the passwords of URLs. Output of checks and runbook steps, logs and
    answers are masked with these too (a step running `printenv` shows `DB_PASSWORD=***`)."""
    global _env_cache
    env = os.environ if environ is None else environ
    key = hash(frozenset(env.items()))
    if environ is None and _env_cache is not None and _env_cache[0] == key:
        return _env_cache[1]
    found = frozenset(v for name, value in env.items() for v in _secret_values(name, value))
    if environ is None:
        _env_cache = (key, found)
    return found


CHILD_VARIABLES = ("PATH", "HOME", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ", "USER", "LOGNAME",
                   "SHELL", "TMPDIR", "TERM")


def child_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a command check or a runbook step runs with: the basics a shell needs from
    opsbook's own (CHILD_VARIABLES) plus what the config gives it (`env:`), nothing else. opsbook's
    own secrets (database URL, tokens) never reach a child unless the config passes them."""
    env = {name: os.environ[name] for name in CHILD_VARIABLES if name in os.environ}
    env.update(extra or {})
    return env
