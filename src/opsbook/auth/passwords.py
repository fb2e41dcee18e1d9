"""Passwords of the users in opsbook.yaml: argon2id hashes (argon2-cffi), set from the CLI, checked at login.

A user without a stored hash cannot sign in. A hash made with older parameters is upgraded on the next
successful login.
"""

from __future__ import annotations

import functools
import secrets
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.orm import Session

from opsbook.auth.web_models import UserPasswordRow

MIN_LENGTH = 10

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Compared against when the user has no password, so both cases cost the same (made on first use:
    hashing is slow on purpose, and every CLI command imports this module)."""
    return _hasher.hash("opsbook-no-such-user-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_strength(password: str, user: str) -> str | None:
    """Why this password is refused, or None."""
    if len(password) < MIN_LENGTH:
        return f"a password needs at least {MIN_LENGTH} characters"
    if password.strip().lower() == user.lower():
        return "a password cannot be the user name"
    return None


def set_password(session: Session, user: str, password: str, now: datetime, by: str = "") -> None:
    problem = check_strength(password, user)
    if problem:
        raise ValueError(problem)
    row = session.get(UserPasswordRow, user)
    if row is None:
        session.add(
            UserPasswordRow(user=user, password_hash=hash_password(password), updated_at=now, updated_by=by)
        )
    else:
        row.password_hash = hash_password(password)
        row.updated_at = now
        row.updated_by = by


def has_password(session: Session, user: str) -> bool:
    return session.get(UserPasswordRow, user) is not None


def verify(session: Session, user: str, password: str) -> bool:
    """True when `user` has a password and this is it. Costs the same time when the user has none."""
    row = session.get(UserPasswordRow, user)
    try:
        _hasher.verify(row.password_hash if row else _dummy_hash(), password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    if row is None:
        return False
    if _hasher.check_needs_rehash(row.password_hash):
        row.password_hash = hash_password(password)
    return True


def ensure_first_admin_password(session: Session, admins: list[str], now: datetime) -> tuple[str, str] | None:
    """At first start, give the first admin user of the config a password, so someone can sign in to the UI;
    returns (user, password) to print once, or None when an admin can already sign in (or none exists)."""
    if not admins or any(has_password(session, name) for name in admins):
        return None
    password = secrets.token_urlsafe(12)
    set_password(session, admins[0], password, now, by="opsbook (first start)")
    return admins[0], password
