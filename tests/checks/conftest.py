"""Real local counterparts for the network check kinds: an aiohttp server, a silent TCP server, TLS servers.

Nothing here sleeps: slow handlers wait on an event that teardown sets.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import trustme
from aiohttp import web

from opsbook.checks.kinds.probes.http import close_sessions

BIG_BODY = 50 * 1024 * 1024
CHUNK = b"x" * 65536


@dataclass
class HttpServer:
    """A running aiohttp test server and what its handlers observed."""

    url: str
    big_size: int = BIG_BODY
    release: asyncio.Event = field(default_factory=asyncio.Event)
    big_written: int = 0
    big_done: asyncio.Event = field(default_factory=asyncio.Event)
    peers: list[int] = field(default_factory=list)
    requests: list[dict[str, object]] = field(default_factory=list)


def _app(state: HttpServer) -> web.Application:
    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="all ok")

    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="status page")

    async def json_doc(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "status": "ok",
                "checks": {"db": {"status": "down", "up": False}, "cache": {"status": "ok", "up": True}},
                "items": [{"id": 1}, {"id": 2}],
                "count": 1,
            }
        )

    async def slow(request: web.Request) -> web.Response:
        await state.release.wait()
        return web.Response(text="late")

    async def slow_body(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"part")
        await state.release.wait()
        await response.write(b" rest")
        return response

    async def big(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_length = BIG_BODY
        await response.prepare(request)
        try:
            while state.big_written < state.big_size:
                await response.write(CHUNK)
                state.big_written += len(CHUNK)
        except (ConnectionError, RuntimeError):
            pass  # the client hung up, as it should
        finally:
            state.big_done.set()
        return response

    async def redirect(request: web.Request) -> web.Response:
        left = int(request.match_info["n"])
        raise web.HTTPFound("/ok" if left == 0 else f"/redirect/{left - 1}")

    async def echo(request: web.Request) -> web.Response:
        body = await request.text()
        seen: dict[str, object] = {"method": request.method, "headers": dict(request.headers), "body": body}
        state.requests.append(seen)
        return web.json_response(seen)

    async def peer(request: web.Request) -> web.Response:
        port = request.transport.get_extra_info("peername")[1] if request.transport else 0
        state.peers.append(port)
        return web.Response(text=str(port))

    async def latin(request: web.Request) -> web.Response:
        return web.Response(body="café".encode("latin-1"), content_type="text/plain", charset="latin-1")

    app = web.Application()
    app.router.add_get("/ok", ok)
    app.router.add_route("*", "/status/{code}", status)
    app.router.add_get("/json", json_doc)
    app.router.add_get("/slow", slow)
    app.router.add_get("/slow-body", slow_body)
    app.router.add_get("/big", big)
    app.router.add_get("/redirect/{n}", redirect)
    app.router.add_route("*", "/echo", echo)
    app.router.add_get("/peer", peer)
    app.router.add_get("/latin", latin)
    return app


async def _serve(
    ssl_context: ssl.SSLContext | None = None, host: str = "127.0.0.1"
) -> AsyncIterator[HttpServer]:
    state = HttpServer(url="")
    runner = web.AppRunner(_app(state), shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = runner.addresses[0][1]
    state.url = f"{'https' if ssl_context else 'http'}://{host}:{port}"
    try:
        yield state
    finally:
        state.release.set()
        await runner.cleanup()


@pytest.fixture
async def http_sessions() -> AsyncIterator[None]:
    """Closes the http kind's shared sessions of this test's event loop at the end."""
    yield
    await close_sessions()


@pytest.fixture
async def http_server() -> AsyncIterator[HttpServer]:
    async for state in _serve():
        yield state


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def server_context(cert: trustme.LeafCert) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return context


@pytest.fixture
async def https_server(ca: trustme.CA) -> AsyncIterator[HttpServer]:
    """The same app over TLS, with a certificate for `localhost` from the test CA."""
    async for state in _serve(server_context(ca.issue_cert("localhost")), host="localhost"):
        yield state


@dataclass
class Silent:
    """A TCP server that accepts connections and never writes a byte."""

    port: int
    accepted: int = 0


@pytest.fixture
async def silent_server() -> AsyncIterator[Silent]:
    done = asyncio.Event()
    state = Silent(port=0)
    writers: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state.accepted += 1
        writers.append(writer)
        await done.wait()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    state.port = server.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        done.set()
        for writer in writers:
            writer.close()
        server.close()
        await server.wait_closed()


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


TlsServerFactory = Callable[[trustme.LeafCert], Awaitable[int]]


@pytest.fixture
async def tls_server() -> AsyncIterator[TlsServerFactory]:
    """Starts TLS servers on 127.0.0.1 that complete the handshake and hang up; returns each one's port."""
    servers: list[asyncio.Server] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async def start(cert: trustme.LeafCert) -> int:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_context(cert))
        servers.append(server)
        port: int = server.sockets[0].getsockname()[1]
        return port

    try:
        yield start
    finally:
        for server in servers:
            server.close()
            await server.wait_closed()
