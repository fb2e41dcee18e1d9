"""Security of the browser side: every mutating route of the whole app refuses a browser session without
the CSRF token and a session of a lower role than it needs; bearer tokens need no CSRF token; sessions
end; failed logins are throttled per user and per address on the injected clock."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from opsbook.auth import sessions
from opsbook.auth.models import AuditRow
from opsbook.auth.roles import Role
from opsbook.auth.tokens import create_token
from opsbook.clock import FakeClock
from opsbook.runtime import Runtime
from tests.web_ui.ui_support import PASSWORD, runtime_for, ui_app

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
USER_OF = {Role.VIEWER: "vera", Role.RESPONDER: "rick", Role.ADMIN: "ana"}
# Mutating routes that authenticate otherwise, on purpose (and why):
OPEN_ROUTES = {
    "/login": "the sign-in form itself (double-submit CSRF cookie)",
    "/logout": "any signed-in user may sign out",
    "/ping/{token}": "heartbeat pings carry their own secret token",
    "/ping/{token}/{signal}": "heartbeat pings carry their own secret token",
    "/api/v1/events/pagerduty": "PagerDuty Events v2 carries its routing key",
    "/api/v1/events/pagerduty/v2/enqueue": "PagerDuty Events v2 carries its routing key",
    "/api/v1/events/pagerduty/v2/change/enqueue": "PagerDuty Change Events carry their routing key",
    "/ack/{token}": "signed single-use acknowledgement link (the incidents domain checks the signature)",
    "/status/subscribe": "the public subscribe form (double-submit CSRF cookie, per-IP limit)",
    "/status/confirm/{token}": "a status page subscriber's signed, expiring confirmation link",
    "/status/unsubscribe/{token}": "a subscriber's signed unsubscribe link, also posted one-click (RFC 8058)",
}
CSRF_EXEMPT = {"/ack/{token}", "/status/confirm/{token}", "/status/unsubscribe/{token}"}
"""Their signed token is the proof; a session cookie plays no part."""


def mutating_routes(app: FastAPI) -> list[tuple[str, str, Any]]:
    """(method, path, route) of every mutating route, included routers flattened (FastAPI's own walk)."""
    out = []
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, APIRoute) and route.methods:
            for method in sorted(route.methods & MUTATING):
                out.append((method, str(route.path), route))
    return out


def required_role(route: Any) -> Role | None:
    """The highest role any dependency of the route demands (found in require_role / needs closures)."""
    found: list[Role] = []

    def walk(dependant: Any) -> None:
        for dep in dependant.dependencies:
            for cell in getattr(dep.call, "__closure__", None) or ():
                try:
                    value = cell.cell_contents
                except ValueError:
                    continue
                if isinstance(value, Role):
                    found.append(value)
            walk(dep)

    walk(route.dependant)
    return max(found, key=lambda r: r.rank) if found else None


def tick(clock: FakeClock, delta: timedelta) -> None:
    asyncio.run(clock.advance(delta))


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


@pytest.fixture
def runtime(sqlite_engine: Engine, clock: FakeClock) -> Runtime:
    return runtime_for(sqlite_engine, clock)


@pytest.fixture
def app(runtime: Runtime) -> FastAPI:
    return ui_app(runtime)


def browser(app: FastAPI, user: str | None) -> tuple[TestClient, str]:
    """A client signed in as `user` through the login form, and its session's CSRF token."""
    client = TestClient(app, base_url="http://127.0.0.1", client=("10.9.8.7", 5000))
    if user is None:
        return client, ""
    login_csrf = client.get("/login").cookies[sessions.LOGIN_COOKIE]
    r = client.post(
        "/login",
        data={"username": user, "password": PASSWORD, "csrf_token": login_csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    page = client.get("/ui/")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    return client, token.group(1)


@pytest.fixture
def clients(app: FastAPI) -> Iterator[dict[Role, tuple[TestClient, str]]]:
    yield {role: browser(app, user) for role, user in USER_OF.items()}


def test_every_mutating_route_is_known_and_role_checked(app: FastAPI) -> None:
    routes = mutating_routes(app)
    assert len(routes) > 20  # the whole app: API and UI
    unprotected = [f"{m} {p}" for m, p, r in routes if required_role(r) is None and p not in OPEN_ROUTES]
    assert unprotected == []
    ui = {p for _, p, _ in routes if p.startswith("/ui/")}
    assert {"/ui/incidents/{incident_id}/ack", "/ui/incidents/{incident_id}/resolve"} <= ui


def test_every_mutating_route_refuses_a_session_without_csrf_token(
    app: FastAPI, clients: dict[Role, tuple[TestClient, str]], runtime: Runtime
) -> None:
    client, _ = clients[Role.ADMIN]  # the highest role: only the missing token can be the reason
    with runtime.sessions() as session:
        audit_before = len(list(session.scalars(select(AuditRow))))
    for method, path, _ in mutating_routes(app):
        if path in CSRF_EXEMPT:
            continue
        for extra in ({}, {"headers": {"X-CSRF-Token": "forged"}}, {"data": {"csrf_token": "forged"}}):
            r = client.request(method, concrete(path), **extra)
            assert r.status_code == 403, (method, path, extra, r.status_code, r.text[:200])
            assert "CSRF" in r.json()["detail"]
    with runtime.sessions() as session:
        assert len(list(session.scalars(select(AuditRow)))) == audit_before  # nothing happened


def test_another_sessions_token_is_refused(clients: dict[Role, tuple[TestClient, str]]) -> None:
    rick, _ = clients[Role.RESPONDER]
    _, ana_token = clients[Role.ADMIN]
    r = rick.post("/ui/silences", headers={"X-CSRF-Token": ana_token}, data={"comment": "x"})
    assert r.status_code == 403
    assert "CSRF" in r.json()["detail"]


def test_every_mutating_route_refuses_a_lower_role(
    app: FastAPI, clients: dict[Role, tuple[TestClient, str]]
) -> None:
    checked = 0
    for method, path, route in mutating_routes(app):
        needed = required_role(route)
        if needed is None or needed is Role.VIEWER:
            continue
        lower = [r for r in Role if r.rank < needed.rank]
        for role in lower:
            client, token = clients[role]
            r = client.request(method, concrete(path), headers={"X-CSRF-Token": token})
            assert r.status_code == 403, (method, path, role, r.status_code, r.text[:200])
            assert "role" in r.text
            checked += 1
    assert checked >= 20


def test_bearer_tokens_need_no_csrf_token(app: FastAPI, runtime: Runtime) -> None:
    with runtime.sessions.begin() as session:
        token = create_token(session, "script", Role.RESPONDER, runtime.clock.now())
    client = TestClient(app)
    now = runtime.clock.now()
    r = client.post(
        "/api/v1/silences",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "matchers": [{"name": "service", "value": "api"}],
            "ends_at": (now + timedelta(hours=1)).isoformat(),
            "comment": "deploy",
        },
    )
    assert r.status_code == 201, r.text
    # a session cookie next to a bearer token is not consulted: the token decides
    viewer_client, _ = browser(app, "vera")
    r = viewer_client.post(
        "/api/v1/silences",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "matchers": [{"name": "service", "value": "web"}],
            "ends_at": (now + timedelta(hours=1)).isoformat(),
            "comment": "deploy",
        },
    )
    assert r.status_code == 201, r.text


def test_login_form_needs_its_cookie(app: FastAPI) -> None:
    client = TestClient(app)
    r = client.post("/login", data={"username": "ana", "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 403


def test_api_accepts_a_browser_session_with_its_role(clients: dict[Role, tuple[TestClient, str]]) -> None:
    vera, token = clients[Role.VIEWER]
    assert vera.get("/api/v1/services").status_code == 200
    r = vera.post("/api/v1/silences", headers={"X-CSRF-Token": token}, json={})
    assert r.status_code == 403


def test_sessions_end_on_logout_idle_and_removal(app: FastAPI, clock: FakeClock) -> None:
    client, token = browser(app, "rick")
    assert client.get("/ui/", follow_redirects=False).status_code == 200
    r = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/ui/", follow_redirects=False).status_code == 303

    client, _ = browser(app, "rick")
    raw = client.cookies.get(sessions.COOKIE)
    tick(clock, sessions.IDLE_TIMEOUT + timedelta(minutes=1))
    r = client.get("/ui/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    # an old cookie sent by hand is no better
    stale = TestClient(app, cookies={sessions.COOKIE: raw or ""})
    assert stale.get("/api/v1/services").status_code == 401


def test_failed_logins_are_throttled_per_user(app: FastAPI, clock: FakeClock, runtime: Runtime) -> None:
    client = TestClient(app)
    csrf = client.get("/login").cookies[sessions.LOGIN_COOKIE]

    def attempt(user: str, password: str) -> int:
        return client.post(
            "/login",
            data={"username": user, "password": password, "csrf_token": csrf},
            follow_redirects=False,
        ).status_code

    for _ in range(sessions.THROTTLE.per_user):
        assert attempt("rick", "guess-guess-guess") == 401
    assert attempt("rick", PASSWORD) == 429  # even the right password, while throttled
    other = TestClient(app)
    other_csrf = other.get("/login").cookies[sessions.LOGIN_COOKIE]
    r = other.post(
        "/login",
        data={"username": "ana", "password": PASSWORD, "csrf_token": other_csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303  # another user from the same address is not locked out
    tick(clock, timedelta(minutes=14))
    assert attempt("rick", PASSWORD) == 429
    tick(clock, timedelta(minutes=2))  # the oldest failure has left the 15-minute window
    assert attempt("rick", PASSWORD) == 303
    with runtime.sessions() as session:
        actions = [row.action for row in session.scalars(select(AuditRow).order_by(AuditRow.id))]
    assert actions.count("auth.login.failed") == sessions.THROTTLE.per_user
    assert "auth.login.throttled" in actions and actions.count("auth.login") == 2


def test_failed_logins_are_throttled_per_address(app: FastAPI, clock: FakeClock) -> None:
    client = TestClient(app, client=("192.0.2.1", 4000))
    csrf = client.get("/login").cookies[sessions.LOGIN_COOKIE]
    for n in range(sessions.THROTTLE.per_source):
        r = client.post("/login", data={"username": f"nobody{n}", "password": "x" * 12, "csrf_token": csrf})
        assert r.status_code == 401
    r = client.post("/login", data={"username": "ana", "password": PASSWORD, "csrf_token": csrf})
    assert r.status_code == 429
    assert "Too many failed sign-ins" in r.text
    other = TestClient(app, client=("192.0.2.2", 4000))
    csrf2 = other.get("/login").cookies[sessions.LOGIN_COOKIE]
    r = other.post(
        "/login", data={"username": "ana", "password": PASSWORD, "csrf_token": csrf2}, follow_redirects=False
    )
    assert r.status_code == 303


def test_next_is_only_a_local_path(app: FastAPI) -> None:
    client = TestClient(app)
    csrf = client.get("/login").cookies[sessions.LOGIN_COOKIE]
    for target in ("//evil.example/x", "https://evil.example", "/\\evil.example"):
        r = client.post(
            "/login",
            data={"username": "ana", "password": PASSWORD, "csrf_token": csrf, "next": target},
            follow_redirects=False,
        )
        assert r.headers["location"] == "/ui/"
        client.cookies.clear()
        csrf = client.get("/login").cookies[sessions.LOGIN_COOKIE]
