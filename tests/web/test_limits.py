"""Request limits: oversized bodies refused before they are held, deep JSON refused, API load bounded."""

from __future__ import annotations

import asyncio
import os
from collections.abc import MutableMapping
from typing import Any, cast

import psutil
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from opsbook.errors import Invalid
from opsbook.web.limits import ApiConcurrency, BodyLimit, cap_for, loads_limited
from tests.support import free_port


def echo_app() -> Starlette:
    async def echo(request: Request) -> JSONResponse:
        return JSONResponse({"size": len(await request.body())})

    return Starlette(routes=[Route("/ping/{token}", echo, methods=["POST"]),
                             Route("/api/v1/slow", echo, methods=["GET", "POST"])])


async def raw_request(port: int, head: bytes, chunks: int, chunk: bytes) -> bytes:
    """Send a request by hand (so the body can stream), then read what the server answers."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head)
    try:
        for _ in range(chunks):
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()
    except ConnectionError:
        pass  # the server answered and closed while we were still sending: that is the point
    answer = await reader.read(4096)
    writer.close()
    return answer


async def test_a_huge_streamed_ping_is_refused_and_never_held() -> None:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(BodyLimit(echo_app()), host="127.0.0.1", port=port,
                                           log_config=None, lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0)
    rss_before = psutil.Process(os.getpid()).memory_info().rss
    head = (b"POST /ping/anything HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: text/plain\r\n\r\n")
    answer = await raw_request(port, head, chunks=300, chunk=b"x" * (1024 * 1024))  # 300 MB offered
    rss_after = psutil.Process(os.getpid()).memory_info().rss
    server.should_exit = True
    await task
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"at most 102400 bytes" in answer
    assert rss_after - rss_before < 50 * 1024 * 1024  # nowhere near the 300 MB offered


async def test_a_declared_length_over_the_cap_is_refused_before_reading() -> None:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(BodyLimit(echo_app()), host="127.0.0.1", port=port,
                                           log_config=None, lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /ping/t HTTP/1.1\r\nHost: x\r\nContent-Length: 314572800\r\n\r\n")  # and no body
    await writer.drain()
    answer = await reader.read(4096)
    writer.close()
    small = await raw_request(port, b"POST /ping/t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
                              chunks=2, chunk=b"y" * 1000)
    server.should_exit = True
    await task
    assert answer.startswith(b"HTTP/1.1 413")
    assert small.startswith(b"HTTP/1.1 200") and small.endswith(b'{"size":2000}')


def test_caps_by_path() -> None:
    assert cap_for("/ping/abc/fail") == 100 * 1024
    assert cap_for("/api/v1/events/alertmanager") == 512 * 1024
    assert cap_for("/api/v1/checks") == 1024 * 1024
    assert cap_for("/status.json") == 64 * 1024


def test_deep_json_is_invalid_not_a_crash() -> None:
    assert loads_limited(b'{"a": [1, {"b": 2}]}') == {"a": [1, {"b": 2}]}
    with pytest.raises(Invalid, match="nested deeper than 64"):
        loads_limited("[" * 10_000 + "]" * 10_000)
    with pytest.raises(Invalid, match="nested deeper than 64"):
        loads_limited("[" * 65 + "]" * 65)
    assert isinstance(loads_limited("[" * 64 + "]" * 64), list)  # 64 levels are fine
    with pytest.raises(Invalid, match="not valid JSON"):
        loads_limited(b"{nope")
    with pytest.raises(Invalid, match="not UTF-8"):
        loads_limited(b"\xff\xfe{}")


async def test_api_load_beyond_the_queue_is_answered_503_with_retry_after() -> None:
    release = asyncio.Event()
    entered = asyncio.Event()

    async def slow(_request: Request) -> JSONResponse:
        entered.set()
        await release.wait()
        return JSONResponse({"ok": True})

    limited = ApiConcurrency(Starlette(routes=[Route("/api/v1/slow", slow)]), limit=1, queue=1)
    answers: list[tuple[int, dict[bytes, bytes]]] = []

    async def call() -> None:
        started: dict[str, object] = {}

        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": b""}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                started.update(message)
                headers = dict(cast(list[tuple[bytes, bytes]], message["headers"]))
                answers.append((int(message["status"]), headers))

        scope = {"type": "http", "method": "GET", "path": "/api/v1/slow", "headers": [], "query_string": b"",
                 "asgi": {"version": "3.0"}, "http_version": "1.1", "scheme": "http", "server": ("x", 80),
                 "root_path": ""}
        await limited(scope, receive, send)

    first = asyncio.create_task(call())
    await entered.wait()
    queued = asyncio.create_task(call())
    await asyncio.sleep(0)
    await call()  # the third: one running, one waiting, no room
    assert answers == [(503, {b"content-type": b"application/json", b"content-length": answers[0][1][
        b"content-length"], b"retry-after": b"2"})]
    release.set()
    await asyncio.gather(first, queued)
    assert sorted(status for status, _ in answers) == [200, 200, 503]
    assert limited.refused == 1
