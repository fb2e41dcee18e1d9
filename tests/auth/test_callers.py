"""Who is calling is found with reads only: a browser session's last use is recorded at most once a minute,
in a transaction of its own, and a database refusing writes still lets a signed-in browser in."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, select

from opsbook.auth import callers, passwords, service
from opsbook.auth.roles import Principal, Role
from opsbook.auth.web_models import WebSessionRow
from opsbook.clock import FakeClock
from opsbook.db.engine import make_engine
from opsbook.db.migrate import upgrade
from opsbook.runtime import Runtime
from tests.support import make_runtime, writes_to

CONFIG = "users:\n  - {name: rick, role: responder}\n"
PASSWORD = "a-long-password-1"


def _signed_in(runtime: Runtime) -> str:
    with runtime.sessions.begin() as session:
        passwords.set_password(session, "rick", PASSWORD, runtime.clock.now())
    return service.sign_in(runtime, "rick", PASSWORD, "10.0.0.7").token


def _last_seen(runtime: Runtime) -> object:
    with runtime.sessions() as session:
        return session.scalar(select(WebSessionRow.last_seen_at))


async def test_a_session_is_recorded_as_seen_at_most_once_a_minute(engine: Engine) -> None:
    clock = FakeClock()
    runtime = make_runtime(engine, clock, CONFIG)
    token = _signed_in(runtime)
    signed_in_at = clock.now()
    await clock.advance(timedelta(seconds=59))
    with writes_to(engine) as writes:
        found = callers.browser_caller(runtime, token, "10.0.0.7")
    assert found is not None and found.principal == Principal("rick", Role.RESPONDER, "10.0.0.7")
    assert writes == [] and _last_seen(runtime) == signed_in_at
    await clock.advance(timedelta(seconds=1))
    assert callers.browser_caller(runtime, token) is not None
    assert _last_seen(runtime) == clock.now()
    assert callers.browser_caller(runtime, "not-a-session") is None


async def test_a_signed_in_browser_gets_in_while_the_database_refuses_writes(tmp_path: Path) -> None:
    path = tmp_path / "opsbook.db"
    writable = make_engine(f"sqlite:///{path}")
    upgrade(writable)
    clock = FakeClock()
    token = _signed_in(make_runtime(writable, clock, CONFIG))
    writable.dispose()
    await clock.advance(timedelta(minutes=5))  # its last use is due to be recorded

    read_only = make_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    runtime = make_runtime(read_only, clock, CONFIG)
    found = callers.browser_caller(runtime, token, "10.0.0.7")
    assert found is not None and found.principal.name == "rick"
    assert callers.token_caller(runtime, "opsb_unknown") is None
    read_only.dispose()
