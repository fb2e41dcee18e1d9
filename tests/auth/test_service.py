"""Access as use cases, on SQLite and PostgreSQL: tokens created and revoked and passwords set (admin only,
each with its audit row and ACCESS event, nothing on a refusal), sign-in and sign-out audited."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select

from opsbook.auth import callers, service, sessions
from opsbook.auth.models import ApiTokenRow, AuditRow
from opsbook.auth.roles import Principal, Role
from opsbook.clock import FakeClock
from opsbook.errors import Conflict, Forbidden, Invalid, NotFound
from opsbook.events import DomainEvent, Event, Topic
from opsbook.runtime import Runtime
from tests.support import make_runtime

CONFIG = """\
users:
  - {name: ana, role: admin}
  - {name: rick, role: responder}
"""
ANA = Principal("ana", Role.ADMIN, "cli")
RICK = Principal("rick", Role.RESPONDER, "10.0.0.7")
PASSWORD = "a-long-password-1"


@pytest.fixture
def runtime(engine: Engine, clock: FakeClock) -> Runtime:
    return make_runtime(engine, clock, CONFIG)


@pytest.fixture
def events(runtime: Runtime) -> Iterator[list[Event]]:
    seen: list[Event] = []
    unsubscribe = runtime.bus.subscribe(Topic.ACCESS, seen.append)
    yield seen
    unsubscribe()


def _announced(events: list[Event]) -> list[tuple[str, str]]:
    return [(e.action, e.subject) for e in events if isinstance(e, DomainEvent)]


def _audit(runtime: Runtime) -> list[tuple[str, str, str, str, dict[str, object]]]:
    with runtime.sessions() as session:
        rows = session.scalars(select(AuditRow).order_by(AuditRow.id))
        return [(r.actor, r.source, r.action, r.target, r.detail) for r in rows]


def test_tokens_are_created_and_revoked_by_an_admin(runtime: Runtime, events: list[Event]) -> None:
    created = service.create_api_token(runtime, ANA, " grafana ", Role.RESPONDER)
    assert created.name == "grafana" and created.token.startswith("opsb_")
    assert callers.token_caller(runtime, created.token) == Principal("token:grafana", Role.RESPONDER)
    row = service.revoke_api_token(runtime, ANA, created.id)
    assert row.revoked_at == runtime.clock.now()
    assert callers.token_caller(runtime, created.token) is None
    subject = f"token:{created.id}"
    assert _announced(events) == [("token.created", subject), ("token.revoked", subject)]
    assert _audit(runtime) == [
        ("ana", "cli", "token.create", subject, {"name": "grafana", "role": "responder"}),
        ("ana", "cli", "token.revoke", subject, {"name": "grafana"}),
    ]


def test_token_changes_are_refused(runtime: Runtime, events: list[Event]) -> None:
    with pytest.raises(Forbidden):
        service.create_api_token(runtime, RICK, "ci", Role.ADMIN)
    with pytest.raises(Invalid):
        service.create_api_token(runtime, ANA, "  ", Role.VIEWER)
    created = service.create_api_token(runtime, ANA, "ci", Role.VIEWER)
    events.clear()
    with pytest.raises(Forbidden):
        service.revoke_api_token(runtime, RICK, created.id)
    with pytest.raises(NotFound, match=f"no token {created.id + 1}"):
        service.revoke_api_token(runtime, ANA, created.id + 1)
    service.revoke_api_token(runtime, ANA, created.id)
    with pytest.raises(Conflict, match="revoked already"):
        service.revoke_api_token(runtime, ANA, created.id)
    assert _announced(events) == [("token.revoked", f"token:{created.id}")]
    with runtime.sessions() as session:
        assert len(session.scalars(select(ApiTokenRow)).all()) == 1
    assert [action for _, _, action, _, _ in _audit(runtime)] == ["token.create", "token.revoke"]


def test_a_new_password_ends_the_users_sessions(runtime: Runtime, events: list[Event]) -> None:
    assert service.set_user_password(runtime, ANA, "rick", PASSWORD) == 0
    signed_in = service.sign_in(runtime, " Rick ", PASSWORD, "10.0.0.7")
    assert signed_in.outcome is sessions.LoginOutcome.OK
    assert service.set_user_password(runtime, ANA, "rick", "another-long-one-2") == 1
    assert callers.browser_caller(runtime, signed_in.token) is None
    assert _announced(events) == [("password.set", "user:rick")] * 2
    assert [(a, t, d) for _, _, a, t, d in _audit(runtime) if a == "user.set_password"] == [
        ("user.set_password", "user:rick", {"sessions_ended": 0}),
        ("user.set_password", "user:rick", {"sessions_ended": 1}),
    ]


def test_password_changes_are_refused(runtime: Runtime, events: list[Event]) -> None:
    with pytest.raises(Forbidden):
        service.set_user_password(runtime, RICK, "rick", PASSWORD)
    with pytest.raises(NotFound, match=r"no user 'nobody' in opsbook.yaml \(users: ana, rick\)"):
        service.set_user_password(runtime, ANA, "nobody", PASSWORD)
    with pytest.raises(Invalid, match="at least"):
        service.set_user_password(runtime, ANA, "rick", "short")
    assert events == [] and _audit(runtime) == []
    assert service.sign_in(runtime, "rick", "short", "x").outcome is sessions.LoginOutcome.INVALID


def test_sign_in_and_out_are_audited(runtime: Runtime, events: list[Event]) -> None:
    service.set_user_password(runtime, ANA, "rick", PASSWORD)
    events.clear()
    refused = service.sign_in(runtime, "rick", "wrong-password", "10.0.0.7")
    assert refused.outcome is sessions.LoginOutcome.INVALID
    result = service.sign_in(runtime, "RICK", PASSWORD, "10.0.0.7")
    assert result.principal == RICK
    service.sign_out(runtime, RICK, result.token)
    assert callers.browser_caller(runtime, result.token) is None
    assert _audit(runtime)[1:] == [
        ("rick", "10.0.0.7", "auth.login.failed", "user:rick", {}),
        ("rick", "10.0.0.7", "auth.login", "user:rick", {}),
        ("rick", "10.0.0.7", "auth.logout", "user:rick", {}),
    ]
    assert events == []  # nothing keeps sessions elsewhere: no one to tell
