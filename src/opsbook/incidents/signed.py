"""Signed acknowledgement links: a responder acknowledges from a phone without logging in.

A link is `BASE_URL/ack/TOKEN`; TOKEN is an itsdangerous `URLSafeTimedSerializer` signature (HMAC-SHA1
over the payload and a timestamp) of `{"i": incident id, "u": user paged, "n": random nonce}`. It is
refused when altered (bad signature), older than `incidents.link_ttl`, or presented for another incident;
it works once (`incident_ack_tokens` records the nonces used; see service.acknowledge_with_link).

The key is `incidents.link_secret` (e.g. `${OPSBOOK_LINK_SECRET}`), or, when that is empty, a random
secret generated once and kept in the `opsbook_meta` table, so every process of an installation agrees.
Time comes from the caller (`now`), never from the system clock.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from opsbook.checks.models import MetaRow
from opsbook.config.schema import OpsbookConfig
from opsbook.errors import Conflict, Invalid
from opsbook.incidents.models import AckTokenRow

SALT = "opsbook.incident-ack"
META_KEY = "incidents.link_secret"


class LinkError(Invalid):
    """The link cannot be used; the message says why, in words for the person holding the phone."""


class LinkInvalid(LinkError):
    pass


class LinkExpired(LinkError):
    pass


class LinkWrongIncident(LinkError):
    pass


class LinkUsed(Conflict):
    """The link worked once already."""

    def __init__(self) -> None:
        super().__init__("this link was used already")


@dataclass(frozen=True)
class AckClaim:
    """What a valid link says: acknowledge this incident, as (or on behalf of) this user."""

    incident_id: int
    user: str | None
    nonce: str
    issued_at: datetime


class _ClockSigner(TimestampSigner):
    """itsdangerous' timestamp signer, reading the time given instead of the system clock."""

    def __init__(self, *args: Any, now: datetime, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._now = now

    def get_timestamp(self) -> int:
        return int(self._now.timestamp())


def serializer(secret: str, now: datetime, salt: str) -> URLSafeTimedSerializer:
    """itsdangerous' URL-safe timed serializer for `salt` (one per kind of link), at the time given."""
    return URLSafeTimedSerializer(secret, salt=salt, signer=_ClockSigner, signer_kwargs={"now": now})


def _serializer(secret: str, now: datetime) -> URLSafeTimedSerializer:
    return serializer(secret, now, SALT)


def make_token(secret: str, incident_id: int, now: datetime, user: str | None = None) -> str:
    """A fresh single-use token for `incident_id`, issued at `now`."""
    payload = {"i": int(incident_id), "u": user, "n": secrets.token_urlsafe(12)}
    token = _serializer(secret, now).dumps(payload)
    return str(token)


def read_token(
    secret: str, token: str, now: datetime, ttl: timedelta, incident_id: int | None = None
) -> AckClaim:
    """Check the signature and age (and, if given, the incident) of `token`; raise a LinkError if bad."""
    try:
        payload, issued = _serializer(secret, now).loads(
            token, max_age=int(ttl.total_seconds()), return_timestamp=True
        )
    except SignatureExpired:
        raise LinkExpired("this link has expired; acknowledge with the CLI or the web UI instead") from None
    except BadSignature:
        raise LinkInvalid("this link is not valid (it was altered or is not an opsbook link)") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("i"), int) or not payload.get("n"):
        raise LinkInvalid("this link is not valid (unexpected content)")
    claim = AckClaim(int(payload["i"]), payload.get("u"), str(payload["n"]), issued.astimezone(UTC))
    if incident_id is not None and claim.incident_id != incident_id:
        raise LinkWrongIncident(f"this link is for incident #{claim.incident_id}, not #{incident_id}")
    return claim


def link_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/ack/{token}"


def link_secret(session: Session, configured: str | None) -> str:
    """The configured secret, or the installation's generated one (created on first use, in the DB)."""
    if configured:
        return configured
    row = session.get(MetaRow, META_KEY)
    if row is not None:
        return row.value
    value = secrets.token_urlsafe(32)
    try:
        with session.begin_nested():
            session.add(MetaRow(key=META_KEY, value=value))
    except IntegrityError:  # another process created it first: use theirs
        row = session.get(MetaRow, META_KEY)
        assert row is not None
        return row.value
    return value


def claim_of(
    session: Session, config: OpsbookConfig, token: str, now: datetime, incident_id: int | None = None
) -> AckClaim:
    """What an ack link says, if it may still be used: raises a LinkError, or LinkUsed."""
    secret = link_secret(session, config.incidents.link_secret)
    claim = read_token(secret, token, now, config.incidents.link_ttl, incident_id)
    if session.get(AckTokenRow, claim.nonce) is not None:
        raise LinkUsed()
    return claim
