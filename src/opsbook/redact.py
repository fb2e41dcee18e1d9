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
_env_cache: frozenset[str] | None = None


class Redactor:
    """`redact` with a fixed set of secrets, compiled once into one pattern (longest secret first)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        chosen = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)
        self._literal = re.compile("|".join(re.escape(s) for s in chosen)) if chosen else None

    def __call__(self, text: str) -> str:
        text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
        text = _SECRET_QUERY.sub(lambda m: f"{m['key']}{MASK}", text)
        return self._literal.sub(MASK, text) if self._literal is not None else text


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask DSN passwords, secret-looking query parameters and every literal secret given."""
    return Redactor(secrets)(text)


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
    answers are masked with these too (a step running `printenv` shows `DB_PASSWORD=***`).

    Without `environ`, the process environment as first read (call `forget_environment()` after
    changing it: opsbook reads its environment once, at start)."""
    global _env_cache
    if environ is not None:
        return frozenset(v for name, value in environ.items() for v in _secret_values(name, value))
    if _env_cache is None:
        _env_cache = environment_secrets(dict(os.environ))
    return _env_cache


def forget_environment() -> None:
    """Read the environment afresh at the next `environment_secrets()` (tests that set variables)."""
    global _env_cache
    _env_cache = None


CHILD_VARIABLES = ("PATH", "HOME", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ", "USER", "LOGNAME",
                   "SHELL", "TMPDIR", "TERM")


def child_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a command check or a runbook step runs with: the basics a shell needs from
    opsbook's own (CHILD_VARIABLES) plus what the config gives it (`env:`), nothing else. opsbook's
    own secrets (database URL, tokens) never reach a child unless the config passes them."""
    env = {name: os.environ[name] for name in CHILD_VARIABLES if name in os.environ}
    env.update(extra or {})
    return env
