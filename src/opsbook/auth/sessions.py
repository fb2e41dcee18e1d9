"""Browser sessions: sign-in with a password, server-side sessions with a CSRF token each, and throttling.

- The session cookie holds a random token; the database keeps only its SHA-256, the user, the session's
  CSRF token and its expiry (idle and absolute), so signing out or changing a password ends it at once.
- Every mutating request from a session must carry the session's CSRF token (header `X-CSRF-Token` or
  form field `csrf_token`); the login form itself uses a double-submitted cookie.
- Failed logins are counted per user name and per client address over a sliding window on the injected
  clock; past the limit, logins are refused without looking at the password until the window moves on.
  Each attempt is recorded (as failed) and committed before the count that decides it, so of N attempts
  at once at most the limit get a password check: an attempt counts every one recorded before it,
  decided or not (`record_attempt`, then `login`).
- The role comes from opsbook.yaml at every request, so a role change applies at once and a user removed
  from the file is signed out.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, func, select, true, update
from sqlalchemy.orm import Session

from opsbook.auth import passwords
from opsbook.auth.roles import Principal, Role
from opsbook.auth.web_models import LoginAttemptRow, WebSessionRow
from opsbook.config.schema import OpsbookConfig

COOKIE = "opsbook_session"
LOGIN_COOKIE = "opsbook_login_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})

IDLE_TIMEOUT = timedelta(hours=12)
MAX_AGE = timedelta(days=7)
TOUCH_EVERY = timedelta(minutes=1)  # last_seen is written at most this often


@dataclass(frozen=True)
class Throttle:
    window: timedelta = timedelta(minutes=15)
    per_user: int = 5  # failures of one user name within the window (a success resets it)
    per_source: int = 20  # failures from one client address within the window


THROTTLE = Throttle()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_matches(expected: str | None, supplied: str | None) -> bool:
    return bool(expected) and bool(supplied) and secrets.compare_digest(str(expected), str(supplied))


# --- throttling -------------------------------------------------------------------------------------


def _retry_after(failures: list[datetime], limit: int, window: timedelta, now: datetime) -> timedelta | None:
    """With `failures` newest first inside the window: how long until fewer than `limit` remain."""
    if len(failures) < limit:
        return None
    return max(failures[limit - 1] + window - now, timedelta(seconds=1))


def throttled(
    session: Session, user: str, source: str, now: datetime, throttle: Throttle = THROTTLE,
    attempt: int | None = None,
) -> timedelta | None:
    """How long logins for `user` or from `source` are refused; None when they may try. Attempts not
    decided yet count as failures; `attempt` (the one being decided) does not."""
    since = now - throttle.window
    others = LoginAttemptRow.id != attempt if attempt is not None else true()
    last_ok = session.scalar(
        select(LoginAttemptRow.ts)
        .where(LoginAttemptRow.user == user, LoginAttemptRow.ok.is_(True), LoginAttemptRow.ts > since)
        .order_by(LoginAttemptRow.ts.desc())
        .limit(1)
    )
    user_failures = list(
        session.scalars(
            select(LoginAttemptRow.ts)
            .where(
                LoginAttemptRow.user == user,
                LoginAttemptRow.ok.is_(False),
                LoginAttemptRow.ts > (last_ok or since),
                others,
            )
            .order_by(LoginAttemptRow.ts.desc())
            .limit(throttle.per_user)
        )
    )
    source_failures = list(
        session.scalars(
            select(LoginAttemptRow.ts)
            .where(
                LoginAttemptRow.source == source, LoginAttemptRow.ok.is_(False), LoginAttemptRow.ts > since,
                others,
            )
            .order_by(LoginAttemptRow.ts.desc())
            .limit(throttle.per_source)
        )
    )
    waits = [
        w
        for w in (
            _retry_after(user_failures, throttle.per_user, throttle.window, now),
            _retry_after(source_failures, throttle.per_source, throttle.window, now),
        )
        if w is not None
    ]
    return max(waits) if waits else None


# --- login, resolve, logout ---------------------------------------------------------------------------


class LoginOutcome(StrEnum):
    OK = "ok"
    INVALID = "invalid"
    THROTTLED = "throttled"


@dataclass(frozen=True)
class LoginResult:
    outcome: LoginOutcome
    token: str = ""
    csrf_token: str = ""
    retry_after: timedelta | None = None
    principal: Principal | None = None


def user_role(config: OpsbookConfig, user: str) -> Role | None:
    for u in config.users:
        if u.name == user:
            return Role(u.role)
    return None


def login_name(user: str) -> str:
    """A user name as typed at sign-in, as it is looked up, throttled and audited."""
    return user.strip().lower()[:100]


def record_attempt(session: Session, user: str, source: str, now: datetime) -> int:
    """Record a login attempt as failed before it is decided (commit it before calling `login`); returns
    its id."""
    row = LoginAttemptRow(ts=now, user=login_name(user), source=source[:100], ok=False)
    session.add(row)
    session.flush()
    return row.id


def login(
    session: Session,
    config: OpsbookConfig,
    attempt: int,
    password: str,
    now: datetime,
    throttle: Throttle = THROTTLE,
) -> LoginResult:
    """Decide the recorded `attempt`: refused unread while throttled (and forgotten, so waiting is not
    prolonged), else the password is checked; a success marks the attempt ok and opens a session."""
    row = session.get_one(LoginAttemptRow, attempt)
    wait = throttled(session, row.user, row.source, now, throttle, attempt=attempt)
    if wait is not None:
        session.delete(row)
        return LoginResult(LoginOutcome.THROTTLED, retry_after=wait)
    role = user_role(config, row.user)
    if not passwords.verify(session, row.user, password) or role is None:
        return LoginResult(LoginOutcome.INVALID)
    row.ok = True
    token, csrf = new_token(), new_token()
    session.add(
        WebSessionRow(
            token_hash=hash_token(token), user=row.user, csrf_token=csrf, source=row.source, created_at=now,
            last_seen_at=now, expires_at=now + MAX_AGE,
        )
    )
    return LoginResult(LoginOutcome.OK, token, csrf, principal=Principal(row.user, role, row.source))


@dataclass(frozen=True)
class BrowserSession:
    principal: Principal
    csrf_token: str
    token_hash: str
    last_seen_at: datetime

    def seen_unrecorded(self, now: datetime) -> bool:
        """True when `last_seen_at` is TOUCH_EVERY old or older (time to record that it is still used)."""
        return now - self.last_seen_at >= TOUCH_EVERY


def find(
    session: Session, config: OpsbookConfig, token: str, source: str, now: datetime
) -> BrowserSession | None:
    """The signed-in user of a session cookie, or None when unknown, expired, idle too long or revoked.
    Only reads (`record_seen` writes that it is still used)."""
    row = session.get(WebSessionRow, hash_token(token))
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    if now - row.last_seen_at > IDLE_TIMEOUT:
        return None
    role = user_role(config, row.user)
    if role is None:
        return None
    return BrowserSession(Principal(row.user, role, source), row.csrf_token, row.token_hash, row.last_seen_at)


def record_seen(session: Session, token_hash: str, now: datetime) -> None:
    """Move the session's idle deadline: `last_seen_at = now`, unless recorded less than TOUCH_EVERY ago."""
    session.execute(
        update(WebSessionRow)
        .where(WebSessionRow.token_hash == token_hash, WebSessionRow.last_seen_at <= now - TOUCH_EVERY)
        .values(last_seen_at=now)
        .execution_options(synchronize_session=False)
    )


def logout(session: Session, token: str, now: datetime) -> None:
    session.execute(
        update(WebSessionRow).where(WebSessionRow.token_hash == hash_token(token)).values(revoked_at=now)
    )


def revoke_user_sessions(session: Session, user: str, now: datetime) -> int:
    """End every session of `user` (their password changed); returns how many were open."""
    result = session.execute(
        update(WebSessionRow)
        .where(WebSessionRow.user == user, WebSessionRow.revoked_at.is_(None), WebSessionRow.expires_at > now)
        .values(revoked_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def prune(session: Session, now: datetime, throttle: Throttle = THROTTLE) -> None:
    """Forget sessions long over and login attempts older than any window that reads them."""
    session.execute(delete(WebSessionRow).where(WebSessionRow.expires_at < now - timedelta(days=1)))
    session.execute(delete(LoginAttemptRow).where(LoginAttemptRow.ts < now - max(throttle.window,
                                                                                 timedelta(days=30))))


def last_logins(session: Session) -> dict[str, datetime]:
    """When each user last signed in."""
    rows = session.execute(
        select(LoginAttemptRow.user, func.max(LoginAttemptRow.ts))
        .where(LoginAttemptRow.ok.is_(True))
        .group_by(LoginAttemptRow.user)
    )
    return {user: ts for user, ts in rows}
