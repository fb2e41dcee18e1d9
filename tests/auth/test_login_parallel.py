"""The login throttle holds against parallel attempts: 20 bad logins at once against a real uvicorn get no
more password checks than the limit, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from opsbook.auth import passwords, sessions
from opsbook.auth.models import AuditRow
from opsbook.auth.web_models import LoginAttemptRow
from opsbook.clock import FakeClock
from tests.support import serving
from tests.web_ui.ui_support import runtime_for, ui_app

PARALLEL = 20


async def test_parallel_bad_logins_get_at_most_the_limit_of_password_checks(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = runtime_for(engine, FakeClock())
    checks: list[str] = []
    lock = threading.Lock()
    real_verify = passwords.verify

    def counted(session: Session, user: str, password: str) -> bool:
        with lock:
            checks.append(user)
        return real_verify(session, user, password)

    monkeypatch.setattr(passwords, "verify", counted)
    async with serving(ui_app(runtime)) as base, httpx.AsyncClient(base_url=base, timeout=60) as http:
        csrf = (await http.get("/login")).cookies[sessions.LOGIN_COOKIE]
        form = {"username": "rick", "password": "not-the-password", "csrf_token": csrf}
        answers = await asyncio.gather(*(http.post("/login", data=form) for _ in range(PARALLEL)))

    limit = sessions.THROTTLE.per_user
    statuses = Counter(a.status_code for a in answers)
    assert set(statuses) <= {401, 429} and sum(statuses.values()) == PARALLEL
    assert len(checks) <= limit, f"{len(checks)} password checks for {PARALLEL} parallel attempts"
    assert statuses[401] == len(checks) and statuses[429] == PARALLEL - len(checks)
    with runtime.sessions() as session:
        audit = Counter(session.scalars(select(AuditRow.action)))
        attempts = list(session.scalars(select(LoginAttemptRow.ok)))
    assert audit == {"auth.login.failed": len(checks), "auth.login.throttled": PARALLEL - len(checks)}
    assert attempts == [False] * len(checks)  # the refused attempts leave no row: waiting is not prolonged
