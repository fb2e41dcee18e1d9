"""The signed links a subscriber receives: confirm a subscription, and unsubscribe in one click.

Both are itsdangerous tokens (the same serializer and installation secret as the acknowledgement links,
opsbook.incidents.signed, each with a salt of its own) over `{"s": subscriber id, "n": nonce}`:

- `BASE_URL/status/confirm/TOKEN` expires after `status_page.subscribers.confirm_within`, and names the
  subscriber's current confirmation nonce, so only the newest link sent works;
- `BASE_URL/status/unsubscribe/TOKEN` does not expire (it is in every message, old ones too), and names
  the subscription's unsubscribe nonce.

An altered token is refused as not valid; an expired one as expired (LinkInvalid, LinkExpired: 400).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, SignatureExpired
from sqlalchemy.orm import Session

from opsbook.config.schema import OpsbookConfig
from opsbook.incidents.signed import LinkExpired, LinkInvalid, link_secret, serializer

CONFIRM = "opsbook.subscribe-confirm"
UNSUBSCRIBE = "opsbook.unsubscribe"
NEVER = timedelta(days=365 * 100)


@dataclass(frozen=True)
class LinkClaim:
    """What a valid link says: this subscriber, with this nonce."""

    subscriber_id: int
    nonce: str


def _secret(session: Session, config: OpsbookConfig) -> str:
    return link_secret(session, config.incidents.link_secret)


def make(session: Session, config: OpsbookConfig, salt: str, subscriber_id: int, nonce: str,
         now: datetime) -> str:
    """A token of kind `salt` (CONFIRM or UNSUBSCRIBE) for the subscriber, issued at `now`."""
    return str(serializer(_secret(session, config), now, salt).dumps({"s": int(subscriber_id), "n": nonce}))


def read(session: Session, config: OpsbookConfig, salt: str, token: str, now: datetime) -> LinkClaim:
    """Check a token's signature and, for a confirmation, its age; raise LinkInvalid or LinkExpired."""
    ttl = config.status_page.subscribers.confirm_within if salt == CONFIRM else NEVER
    try:
        reader = serializer(_secret(session, config), now, salt)
        payload = reader.loads(token, max_age=int(ttl.total_seconds()))
    except SignatureExpired:
        raise LinkExpired("this link has expired; subscribe again on the status page") from None
    except BadSignature:
        raise LinkInvalid("this link is not valid (it was altered or is not from this status page)") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("s"), int) or not payload.get("n"):
        raise LinkInvalid("this link is not valid (unexpected content)")
    return LinkClaim(int(payload["s"]), str(payload["n"]))


def url(config: OpsbookConfig, path: str, token: str) -> str:
    """`BASE_URL/status/<path>/<token>`."""
    return f"{config.base_url.rstrip('/')}/status/{path}/{token}"
