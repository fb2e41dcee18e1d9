"""A thin async wrapper around Apprise: send one message to one URL and say what went wrong, redacted.

Apprise reports a failure as a falsy result and explains it in log records; Apprise ≥ 2 returns the
records of each call with its result (`result.logs()`), so concurrent sends never mix their errors.
Every record Apprise emits also passes a filter that masks the secrets of the URLs we use, so channel
URLs never reach opsbook's logs either.

Every delivery carries a message id that stays the same when it is sent again (a retry, or after a crash
between sending and recording it): `opsbook-<outbox row id>`. Receivers can drop repeats by it. Webhooks
(json://, xml://, form://) and e-mail get it as the header `X-Opsbook-Message-Id` (Apprise's `+Header=`
URL arguments); other channels as the last line of the body (`ref: opsbook-42`).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote

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
MESSAGE_ID_HEADER = "X-Opsbook-Message-Id"
HEADER_SCHEMES = frozenset({"json", "jsons", "xml", "xmls", "form", "forms", "mailto", "mailtos"})
"""Apprise schemes whose `+Name=value` URL arguments become headers of the request or the e-mail."""
LISTED_IDS = 20  # a grouped message of more rows is named by its first row, its size and a digest


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


def message_id(outbox_ids: Iterable[int]) -> str:
    """The id of one delivery: `opsbook-42` for one outbox row, `opsbook-42.43.57` for a grouped message
    (a long group: `opsbook-42-120x-<digest of its ids>`)."""
    ids = sorted(outbox_ids)
    if len(ids) <= LISTED_IDS:
        return "opsbook-" + ".".join(map(str, ids))
    digest = hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:16]
    return f"opsbook-{ids[0]}-{len(ids)}x-{digest}"


def with_message_id(url: str, body: str, message_id: str) -> tuple[str, str]:
    """The URL and body that carry `message_id`: as a header where the channel has headers, else as the
    body's last line."""
    scheme = url.split("://", 1)[0].lower()
    if scheme in HEADER_SCHEMES:
        joiner = "&" if "?" in url else "?"
        return f"{url}{joiner}{quote('+' + MESSAGE_ID_HEADER)}={quote(message_id)}", body
    return url, f"{body.rstrip()}\n\nref: {message_id}"


async def send(
    url: str,
    title: str,
    body: str,
    *,
    message_id: str = "",
    notify_type: str = "info",
    timeout: float = 30.0,
    secrets: Iterable[str] = (),
) -> SendOutcome:
    """Send one message through Apprise (with `message_id`, if given; see `with_message_id`); never raises,
    and the error returned is redacted."""
    masked = url_secrets(url) | set(secrets)
    register_secrets(masked)
    if message_id:
        url, body = with_message_id(url, body, message_id)
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
