"""API tokens: random, shown once, stored as SHA-256 hashes, each with a role."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.auth.models import ApiTokenRow
from opsbook.auth.roles import Principal, Role

PREFIX = "opsb_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(session: Session, name: str, role: Role, now: datetime) -> tuple[ApiTokenRow, str]:
    """Add a token (its row flushed, so it has an id) and return it with the token in clear: the only time
    it is ever seen."""
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiTokenRow(name=name, token_hash=hash_token(token), role=role.value, created_at=now)
    session.add(row)
    session.flush()
    return row, token


def create_token(session: Session, name: str, role: Role, now: datetime) -> str:
    """Create a token and return it in clear (tests and first start; people use `create_api_token`)."""
    return new_token(session, name, role, now)[1]


def authenticate(session: Session, token: str, now: datetime, source: str = "") -> Principal | None:
    row = session.scalar(select(ApiTokenRow).where(ApiTokenRow.token_hash == hash_token(token)))
    if row is None or row.revoked_at is not None:
        return None
    row.last_used_at = now
    return Principal(name=f"token:{row.name}", role=Role(row.role), source=source)


def ensure_admin_token(session: Session, now: datetime) -> str | None:
    """At first start, create an admin token and return it (to print once); None if one exists."""
    if (
        session.scalar(select(ApiTokenRow.id).where(ApiTokenRow.role == Role.ADMIN.value).limit(1))
        is not None
    ):
        return None
    return create_token(session, "admin", Role.ADMIN, now)
