"""Tables of browser sign-in: password hashes of users from opsbook.yaml, login sessions, login attempts.

Users themselves (name, role) live in opsbook.yaml; only what the program learns at runtime is stored:
an argon2 hash per user, the sessions they hold (by the SHA-256 of the cookie, never the cookie itself),
and every login attempt (for throttling and for the audit trail).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from opsbook.db.base import Base
from opsbook.db.types import BigId


class UserPasswordRow(Base):
    __tablename__ = "user_passwords"
    user: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(100), default="")


class WebSessionRow(Base):
    """One signed-in browser: the cookie's SHA-256, its CSRF token, and when it stops being valid."""

    __tablename__ = "web_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user: Mapped[str] = mapped_column(String(64), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    revoked_at: Mapped[datetime | None]


class LoginAttemptRow(Base):
    """A password login, successful or not, by user name and client address (throttling reads these)."""

    __tablename__ = "login_attempts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ts: Mapped[datetime]
    user: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(100))
    ok: Mapped[bool] = mapped_column(Boolean)

    __table_args__ = (
        Index("ix_login_attempts_user_ts", "user", "ts"),
        Index("ix_login_attempts_source_ts", "source", "ts"),
    )
