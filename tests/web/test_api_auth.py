"""Every API route needs a token: enumerated from the OpenAPI document, so new routes are covered too."""

from __future__ import annotations

import re
import warnings

import httpx
from sqlalchemy import Engine

from opsbook.clock import FakeClock
from opsbook.web.app import create_app
from tests.support import make_runtime

PUBLIC = {"/health", "/ready", "/ping/{token}", "/ping/{token}/{signal}"}
# PagerDuty's Events and Change Events APIs authenticate by the routing_key in the body (tests/alerts and
# tests/deploys/test_api.py cover a wrong key).
BODY_AUTH = {"/api/v1/events/pagerduty", "/api/v1/events/pagerduty/v2/change/enqueue"}


async def test_every_api_route_refuses_an_anonymous_caller(sqlite_engine: Engine) -> None:
    app = create_app(make_runtime(sqlite_engine, FakeClock(), "services: []\n"), run_pipeline=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. duplicate operation ids
        paths = app.openapi()["paths"]
    assert len(paths) > 20
    checked = 0
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as http:
        for path, operations in paths.items():
            if path in PUBLIC | BODY_AUTH or not path.startswith("/api/v1"):
                continue
            url = re.sub(r"\{[^}]+\}", "1", path)
            for method in operations:
                reply = await http.request(method.upper(), url, json={})
                assert reply.status_code == 401, f"{method.upper()} {path} answered {reply.status_code}"
                checked += 1
    assert checked > 30
