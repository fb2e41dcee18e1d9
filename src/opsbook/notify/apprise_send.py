"""A thin async wrapper around Apprise: send one message to one URL and say what went wrong, redacted.

Apprise reports a failure as a falsy result and explains it in log records; Apprise ≥ 2 returns the
records of each call with its result (`result.logs()`), so concurrent sends never mix their errors.
Every record Apprise emits also passes a filter that masks the secrets of the URLs we use, so channel
URLs never reach opsbook's logs either.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass

import apprise

from opsbook.notify.config import url_secrets
from opsbook.redact import redact

_APPRISE_LOGGER = "apprise"
_NOTIFY_TYPES = {
    "info": apprise.NotifyType.INFO,
    "success": apprise.NotifyType.SUCCESS,
    "warning": apprise.NotifyType.WARNING,
    "failure": apprise.NotifyType.FAILURE,
}


@dataclass(frozen=True)
class SendOutcome:
    """What happened to one send: accepted or not, the redacted reason, and how long it took."""

    ok: bool
    error: str = ""
    duration_ms: float = 0.0


class _RedactingFilter(logging.Filter):
    """Masks known channel secrets in every record of Apprise's logger before any handler sees it."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, secrets: Iterable[str]) -> None:
        with self._lock:
            self._secrets.update(s for s in secrets if s)

    def secrets(self) -> set[str]:
        with self._lock:
            return set(self._secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: keep only its template
            message = str(record.msg)
        record.msg = redact(message, self.secrets())
        record.args = None
        return True


_FILTER = _RedactingFilter()
logging.getLogger(_APPRISE_LOGGER).addFilter(_FILTER)


def register_secrets(secrets: Iterable[str]) -> None:
    """Mask these strings in every Apprise log record from now on (channel URLs and their tokens)."""
    _FILTER.add(secrets)


def is_valid_url(url: str) -> bool:
    """True if Apprise has a plugin for this URL and can parse it (its logging stays redacted)."""
    register_secrets(url_secrets(url))
    return apprise.Apprise.instantiate(url) is not None


def describe_url(url: str, secrets: Iterable[str] = ()) -> str:
    """A safe description of a channel URL for the CLI and API: service and privacy-masked URL, no query."""
    register_secrets(url_secrets(url))
    plugin = apprise.Apprise.instantiate(url)
    if plugin is None:
        return "invalid URL"
    shown = str(plugin.url(privacy=True)).split("?", 1)[0]
    parts = (url_secrets(url) | set(secrets)) - {url}  # mask the tokens, keep the shape of the URL
    return f"{plugin.service_name} ({redact(shown, parts)})"


async def send(
    url: str,
    title: str,
    body: str,
    *,
    notify_type: str = "info",
    timeout: float = 30.0,
    secrets: Iterable[str] = (),
) -> SendOutcome:
    """Send one message through Apprise; never raises, and the error returned is redacted."""
    masked = url_secrets(url) | set(secrets)
    register_secrets(masked)
    sender = apprise.Apprise()
    if not sender.add(url):
        return SendOutcome(False, "the channel URL is not a URL Apprise can send to")
    try:
        result = await sender.async_notify(
            body=body,
            title=title,
            notify_type=_NOTIFY_TYPES.get(notify_type, apprise.NotifyType.INFO),
            body_format=apprise.NotifyFormat.TEXT,
            timeout=timeout,
            log_level=logging.WARNING,
        )
    except Exception as exc:  # Apprise should not raise; if it does, it is a failed attempt like any other
        return SendOutcome(False, redact(f"{type(exc).__name__}: {exc}", masked))
    try:
        duration_ms = float(result.elapsed) * 1000.0
        if result:
            return SendOutcome(True, "", duration_ms)
        messages: list[str] = []
        for entry in result.logs():
            text = str(entry.message).strip()
            if text and text not in messages:
                messages.append(text)
        reason = "; ".join(messages) or f"Apprise reported {result.status.name.lower()}"
        return SendOutcome(False, redact(reason, masked)[:2000], duration_ms)
    finally:
        result.close()
