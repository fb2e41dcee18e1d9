"""Keeps secrets out of logs, API output and the terminal: passwords in DSNs, tokens in URLs and text."""

from __future__ import annotations

import re
from collections.abc import Iterable

_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]+)@")
_SECRET_QUERY = re.compile(
    r"(?P<key>[?&](?:password|passwd|pass|pwd|token|access_token|api_key|apikey|key|secret|signature|sig|auth)=)"
    r"(?P<value>[^&#\s]+)",
    re.IGNORECASE,
)
MASK = "***"


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask DSN passwords, secret-looking query parameters and every literal secret given."""
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    text = _SECRET_QUERY.sub(lambda m: f"{m['key']}{MASK}", text)
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text
