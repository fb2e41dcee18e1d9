"""People's contact methods as channels: each contact of a user is an outbox channel `contact:USER:INDEX`.

The outbox stores channels by name only (URLs are secrets and stay in the config), so the delivery
worker knows these channels too (`DeliveryWorker.from_runtime` adds `contact_channels(config)`).

INDEX is the position of the contact in the user's `contacts:` list, so a page waiting for a retry still
reaches the same person if a URL's token is rotated in the config.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from opsbook.config.schema import OpsbookConfig
from opsbook.notify.config import Channel
from opsbook.oncall.config import User

PREFIX = "contact:"
MAX_NAME = 64


def contact_channel(user: str, index: int) -> str:
    """The outbox channel name of `user`'s contact number `index` (0-based)."""
    name = f"{PREFIX}{user}:{index}"
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(user.encode()).hexdigest()[:16]
    return f"{PREFIX}{user[: MAX_NAME - len(PREFIX) - 24]}~{digest}:{index}"


def contacts_for(user: User, severity: str) -> list[str]:
    """The channels of `user`'s contacts used for `severity`, in config order."""
    return [contact_channel(user.name, i) for i, c in enumerate(user.contacts) if c.applies_to(severity)]


def first_contacts(config: OpsbookConfig, user: str, severities: Sequence[str]) -> list[str]:
    """The contacts of the first of `severities` that `user` has any for ([] for an unknown user)."""
    found = next((u for u in config.users if u.name == user), None)
    if found is None:
        return []
    for severity in severities:
        channels = contacts_for(found, severity)
        if channels:
            return channels
    return []


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
