"""Stored messages as they are shown back (API, CLI): secrets masked, and acknowledgement links masked.

An incident page carries a signed link (`BASE_URL/ack/TOKEN`, incidents/signed.py) that acknowledges as
the person paged, without a login: it is theirs only. The outbox keeps the text as it was sent; every
surface that shows a stored subject, body or delivery error passes it through `shown_by(runtime)`, so
neither a link nor a secret of the configuration is ever shown to anyone else.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from opsbook.redact import MASK, redact
from opsbook.runtime import Runtime

ACK_LINK = re.compile(r"(?P<path>/ack/)[A-Za-z0-9_.\-]+")
"""The token part of an acknowledgement link (URL-safe base64 and dots: itsdangerous' format)."""


def mask_ack_links(text: str) -> str:
    """`https://ops.example/ack/eyJp…` → `https://ops.example/ack/***`."""
    return ACK_LINK.sub(lambda m: m["path"] + MASK, text)


def shown_by(runtime: Runtime) -> Callable[[str], str]:
    """Masks acknowledgement links and every secret of the config, channel URLs and their tokens included."""
    secrets = set(runtime.loaded.all_secrets())
    for channel in runtime.config.channels:
        secrets |= channel.secrets()
    return lambda text: redact(mask_ack_links(text), secrets)
