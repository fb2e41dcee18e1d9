"""Pages to people: each contact method of a user is an outbox channel named `contact:USER:INDEX`.

The outbox stores channels by name only (URLs are secrets and stay in the config), so the delivery
worker must know these channels too: build it with

    DeliveryWorker(runtime.sessions, runtime.clock, [*config.channels, *contact_channels(config)], ...)

INDEX is the position of the contact in the user's `contacts:` list, so a page waiting for a retry still
reaches the same person if a URL's token is rotated in the config.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from opsbook.notify.config import Channel
from opsbook.oncall.config import User

if TYPE_CHECKING:
    from opsbook.config.schema import OpsbookConfig

PREFIX = "contact:"
MAX_NAME = 64


def contact_channel(user: str, index: int) -> str:
    """The outbox channel name of `user`'s contact number `index` (0-based)."""
    name = f"{PREFIX}{user}:{index}"
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(user.encode()).hexdigest()[:16]
    return f"{PREFIX}{user[: MAX_NAME - len(PREFIX) - 24]}~{digest}:{index}"


def user_contacts(user: User, severity: str) -> list[tuple[str, str]]:
    """(channel name, Apprise URL) of each contact of `user` used for `severity`, in config order."""
    return [
        (contact_channel(user.name, i), contact.url)
        for i, contact in enumerate(user.contacts)
        if contact.applies_to(severity)
    ]


def contact_channels(config: OpsbookConfig) -> list[Channel]:
    """Every user contact as a delivery channel, for the DeliveryWorker (never list them: secret URLs)."""
    return [
        Channel.model_construct(
            name=contact_channel(user.name, i), url=contact.url, rate_limit=None,
            description=f"contact {i} of {user.name}",
        )
        for user in config.users
        for i, contact in enumerate(user.contacts)
    ]


def contact_secrets(config: OpsbookConfig) -> set[str]:
    """Every user's contact URLs and their tokens: mask them in logs and output."""
    from opsbook.notify.config import url_secrets

    found: set[str] = set()
    for user in config.users:
        for contact in user.contacts:
            found |= url_secrets(contact.url)
    return found
