"""A bounded schemathesis run over the whole OpenAPI document with an admin token: no answer is a 5xx.

Every operation gets generated bodies, parameters and ids (huge numbers, odd strings, empty objects);
opsbook must answer 2xx/4xx with a message, never 500. `OPSBOOK_FUZZ_EXAMPLES` sets the examples per
operation (default 50: the whole run takes about 30 s).
"""

from __future__ import annotations

import os
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import Case
from schemathesis.core.result import Ok
from sqlalchemy import Engine

from opsbook.auth.roles import Role
from opsbook.auth.tokens import create_token
from opsbook.clock import FakeClock
from opsbook.db.engine import make_engine
from opsbook.db.migrate import upgrade
from opsbook.web.app import create_app
from tests.support import make_runtime

EXAMPLES = int(os.environ.get("OPSBOOK_FUZZ_EXAMPLES", "50"))
CONFIG = """
title: Fuzz
users:
  - {name: ana, role: admin}
  - {name: ben, role: responder}
schedules:
  - name: primary
    layers: [{name: weekly, users: [ana, ben], turn: 1w, handoff: "monday 09:00", start: 2026-01-05}]
escalation_policies:
  - name: default
    levels: [{targets: ["schedule:primary"], after: 10m}, {targets: ["user:ana"]}]
channels:
  - {name: ops, url: "json://127.0.0.1:9/hook"}
services:
  - name: api
    public: true
    checks:
      - {name: health, kind: http, url: "http://127.0.0.1:9/health"}
      - {name: nightly, kind: heartbeat, period: 1d, token: fuzz-heartbeat-token-0001}
"""


def test_no_operation_answers_5xx(tmp_path: Path) -> None:
    engine: Engine = make_engine(f"sqlite:///{tmp_path}/fuzz.db")
    upgrade(engine)
    runtime = make_runtime(engine, FakeClock(), CONFIG)
    with runtime.sessions.begin() as session:
        token = create_token(session, "fuzz", Role.ADMIN, runtime.clock.now())
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(runtime, run_pipeline=False))
    headers = {"Authorization": f"Bearer {token}"}
    failures: list[str] = []
    operations = 0
    for found in schema.get_all_operations():
        assert isinstance(found, Ok), found
        operation = found.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                  derandomize=True, database=None)
        def call(case: Case) -> None:
            try:
                response = case.call(headers=headers)
            except Exception as exc:  # the app raised: a 500 to the caller
                where = f"{case.method} {case.formatted_path}"
                failures.append(f"{where} raised {exc!r}\n  {case.as_curl_command()}")
                return
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} answered {response.status_code}: "
                                f"{response.text[:200]}\n  {case.as_curl_command()}")

        call()
    engine.dispose()
    assert operations > 40
    assert not failures, "\n".join(failures[:20])
