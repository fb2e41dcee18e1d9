"""A fleet of HTTP services on 127.0.0.1 whose health the test sets per path (`/db`, `/api`...)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from fastapi import FastAPI, Response

from tests.notify.conftest import receiver  # noqa: F401  (fixture re-used here)
from tests.support import serving


@dataclass
class Fleet:
    base: str = ""
    status: dict[str, int] = field(default_factory=dict)

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"

    def set(self, code: int, *names: str) -> None:
        for name in names:
            self.status[name] = code


@pytest.fixture
async def fleet() -> AsyncIterator[Fleet]:
    state = Fleet()
    app = FastAPI()

    @app.get("/{name}")
    def health(name: str) -> Response:
        code = state.status.get(name, 200)
        return Response("ok" if code == 200 else "down", status_code=code)

    async with serving(app) as base:
        state.base = base
        yield state
