"""Access as use cases: API tokens created and revoked, passwords set (admin role), sign-in and sign-out.

Each owns its transaction and audit row; token and password changes also emit
`DomainEvent(Topic.ACCESS, ...)`. Sign-in and sign-out are audited (every attempt, the refused and the
throttled ones too) but emit no event: nothing keeps browser sessions anywhere but in their table. The CLI
(`opsbook token`, `opsbook user`) and the web UI's /login and /logout call these.
"""

from __future__ import annotations

from dataclasses import dataclass

from opsbook.auth import passwords, sessions, tokens
from opsbook.auth.models import ApiTokenRow
from opsbook.auth.roles import Principal, Role
from opsbook.errors import Conflict, Invalid, NotFound
from opsbook.events import DomainEvent, Topic
from opsbook.runtime import Runtime
from opsbook.timefmt import show_time
from opsbook.usecase import transaction

LOGIN_AUDIT = {
    sessions.LoginOutcome.OK: "auth.login",
    sessions.LoginOutcome.INVALID: "auth.login.failed",
    sessions.LoginOutcome.THROTTLED: "auth.login.throttled",
}


@dataclass(frozen=True)
class NewToken:
    """A token just created: `token` is the only time it is ever seen in clear."""

    id: int
    name: str
    role: Role
    token: str


def create_api_token(runtime: Runtime, actor: Principal, name: str, role: Role) -> NewToken:
    """A new API token for scripts, CI or another tool, with `role`."""
    with transaction(runtime, actor, needs=Role.ADMIN) as tx:
        name = name.strip()
        if not name or len(name) > 100:
            raise Invalid("a token needs a name of 1 to 100 characters (what it is for, e.g. 'grafana')")
        row, token = tokens.new_token(tx.session, name, role, tx.now)
        tx.audit("token.create", f"token:{row.id}", name=name, role=role.value)
        tx.emit(DomainEvent(Topic.ACCESS, "token.created", f"token:{row.id}", {"role": role.value}))
        return NewToken(row.id, name, role, token)


def revoke_api_token(runtime: Runtime, actor: Principal, token_id: int) -> ApiTokenRow:
    """Revoke a token at once: its next request is refused."""
    with transaction(runtime, actor, needs=Role.ADMIN) as tx:
        row = tx.session.get(ApiTokenRow, token_id)
        if row is None:
            raise NotFound(f"no token {token_id}")
        if row.revoked_at is not None:
            when = show_time(row.revoked_at, runtime.config.timezone)
            raise Conflict(f"token {token_id} ({row.name}) was revoked already, at {when}")
        row.revoked_at = tx.now
        tx.audit("token.revoke", f"token:{token_id}", name=row.name)
        tx.emit(DomainEvent(Topic.ACCESS, "token.revoked", f"token:{token_id}"))
        return row


def known_user(runtime: Runtime, name: str) -> Role:
    """The role of a user declared in opsbook.yaml (users live there; NotFound names the file and users)."""
    role = sessions.user_role(runtime.config, name)
    if role is None:
        known = ", ".join(u.name for u in runtime.config.users) or "none"
        raise NotFound(f"no user {name!r} in {runtime.loaded.path} (users: {known})")
    return role


def set_user_password(runtime: Runtime, actor: Principal, user: str, password: str) -> int:
    """Set `user`'s password and end their browser sessions; returns how many were open."""
    with transaction(runtime, actor, needs=Role.ADMIN) as tx:
        known_user(runtime, user)
        problem = passwords.check_strength(password, user)
        if problem:
            raise Invalid(problem)
        passwords.set_password(tx.session, user, password, tx.now, by=actor.name)
        ended = sessions.revoke_user_sessions(tx.session, user, tx.now)
        tx.audit("user.set_password", f"user:{user}", sessions_ended=ended)
        tx.emit(DomainEvent(Topic.ACCESS, "password.set", f"user:{user}"))
        return ended


def sign_in(runtime: Runtime, user: str, password: str, source: str) -> sessions.LoginResult:
    """Check a password (unless throttled) and open a browser session on success; every attempt is
    audited under the name tried, from `source` (the client address).

    The attempt is recorded and committed first, then decided in a second transaction: parallel attempts
    see each other, so no more than the throttle's limit are ever checked (see `auth.sessions`)."""
    name, source = sessions.login_name(user), source[:100]
    with runtime.sessions.begin() as session:
        attempt = sessions.record_attempt(session, name, source, runtime.clock.now())
    with transaction(runtime, Principal(name or "-", Role.VIEWER, source)) as tx:
        result = sessions.login(tx.session, runtime.config, attempt, password, tx.now)
        wait = {"retry_after_s": int(result.retry_after.total_seconds())} if result.retry_after else {}
        tx.audit(LOGIN_AUDIT[result.outcome], f"user:{name}", **wait)
        return result


def sign_out(runtime: Runtime, actor: Principal, session_token: str) -> None:
    """End the browser session of `session_token` (the cookie's value)."""
    with transaction(runtime, actor) as tx:
        sessions.logout(tx.session, session_token, tx.now)
        tx.audit("auth.logout", f"user:{actor.name}")
