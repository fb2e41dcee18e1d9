"""API tokens: random, shown once, stored as SHA-256 hashes, each with a role.

Finding the caller of a token only reads; when it was last used is written separately (`record_use`), at
most once a `RECORD_USE_EVERY` per token, so a crowd of API readers does not queue writes behind the
pipeline (see `opsbook.auth.callers`).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from opsbook.auth.models import ApiTokenRow
from opsbook.auth.roles import Principal, Role

PREFIX = "opsb_"
RECORD_USE_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class TokenCaller:
    """Who a valid token is, and when its use was last recorded."""

    principal: Principal
    token_id: int
    last_used_at: datetime | None

    def use_unrecorded(self, now: datetime) -> bool:
        """True when `last_used_at` is missing or older than RECORD_USE_EVERY."""
        return self.last_used_at is None or now - self.last_used_at >= RECORD_USE_EVERY


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


def identify(session: Session, token: str, source: str = "") -> TokenCaller | None:
    """The caller of a token that exists and is not revoked, else None. Only reads."""
    row = session.execute(
        select(ApiTokenRow.id, ApiTokenRow.name, ApiTokenRow.role, ApiTokenRow.last_used_at).where(
            ApiTokenRow.token_hash == hash_token(token), ApiTokenRow.revoked_at.is_(None)
        )
    ).one_or_none()
    if row is None:
        return None
    return TokenCaller(Principal(name=f"token:{row.name}", role=Role(row.role), source=source), row.id,
                       row.last_used_at)


def record_use(session: Session, token_id: int, now: datetime) -> None:
    """Set the token's `last_used_at` to `now` unless another request recorded a use less than
    RECORD_USE_EVERY ago."""
    session.execute(
        update(ApiTokenRow)
        .where(ApiTokenRow.id == token_id,
               or_(ApiTokenRow.last_used_at.is_(None), ApiTokenRow.last_used_at <= now - RECORD_USE_EVERY))
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )


def ensure_admin_token(session: Session, now: datetime) -> str | None:
    """At first start, create an admin token and return it (to print once); None if one exists."""
    if (
        session.scalar(select(ApiTokenRow.id).where(ApiTokenRow.role == Role.ADMIN.value).limit(1))
        is not None
    ):
        return None
    return create_token(session, "admin", Role.ADMIN, now)
