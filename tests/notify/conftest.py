"""Real local endpoints for delivery tests: an aiohttp webhook receiver and an aiosmtpd SMTP server."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from opsbook.db.engine import make_sessionmaker


@dataclass
class Receiver:
    """A webhook receiver: records every request; `fail[path] = n` answers 500 to the next n requests."""

    base: str = ""
    port: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    fail: dict[str, int] = field(default_factory=dict)
    always_fail: set[str] = field(default_factory=set)

    def url(self, path: str, scheme: str = "json") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [r["json"] for r in self.requests if r["path"] == path and r["status"] == 200]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    state = Receiver()

    async def handle(request: web.Request) -> web.Response:
        text = await request.text()
        try:
            payload = await request.json()
        except Exception:
            payload = dict(await request.post()) if request.content_type.endswith("form-urlencoded") else None
        status = 200
        if request.path in state.always_fail:
            status = 500
        elif state.fail.get(request.path, 0) > 0:
            state.fail[request.path] -= 1
            status = 503
        state.requests.append(
            {"path": request.path, "json": payload, "text": text, "status": status,
             "headers": dict(request.headers)}
        )
        return web.Response(status=status, text="ok" if status == 200 else "upstream broken")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert isinstance(server, asyncio.Server)
    state.port = server.sockets[0].getsockname()[1]
    state.base = f"http://127.0.0.1:{state.port}"
    try:
        yield state
    finally:
        await runner.cleanup()


@dataclass
class MailBox:
    port: int
    messages: list[email.message.EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)

    def url(self) -> str:
        return f"mailto://127.0.0.1:{self.port}?from=opsbook@x.test&to=oncall@x.test&mode=insecure"


class _Handler:
    def __init__(self, box: MailBox) -> None:
        self.box = box

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.box.messages.append(msg)
        self.box.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[MailBox]:
    box = MailBox(port=_free_port())
    controller = Controller(_Handler(box), hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)
