"""Limits every HTTP request must keep, checked before any handler reads or parses anything.

- `BodyLimit`: a body larger than its path's cap is refused with 413, by its Content-Length before a
  byte is read, or while it streams in (the request never holds more than the cap in memory).
- `ApiConcurrency`: at most `limit` API requests are handled at once and `queue` more may wait; beyond
  that the answer is 503 with Retry-After at once, so a crowd of API readers never queues without bound
  in front of the pipeline (which has its own database connections).
- `loads_limited`: JSON parsing with a nesting-depth cap (400, not a RecursionError).

The status page, pings and event ingest have fast paths of their own ahead of these where noted in
`web/app.py`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opsbook.errors import Invalid

KIB = 1024
MIB = 1024 * KIB
DEFAULT_CAPS: tuple[tuple[str, int], ...] = (
    ("/ping/", 100 * KIB),  # a job's last lines of output
    ("/api/v1/events/", 512 * KIB),  # PagerDuty events, Alertmanager webhooks
    ("/api/", 1 * MIB),
    ("/ui/", 1 * MIB),
    ("/login", 16 * KIB),
    ("/", 64 * KIB),
)
MAX_DEPTH = 64


async def _refuse(send: Send, status: int, detail: str, headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                    *headers],
    })
    await send({"type": "http.response.body", "body": body})


def cap_for(path: str, caps: Sequence[tuple[str, int]] = DEFAULT_CAPS) -> int:
    for prefix, cap in caps:
        if path.startswith(prefix):
            return cap
    return caps[-1][1]


def _too_large(cap: int) -> str:
    return f"request body too large (at most {cap} bytes here)"


def _declared_refusal(scope: Scope, cap: int) -> tuple[int, str] | None:
    """The refusal (status, detail) a request earns by its Content-Length alone: 400 when it is not a
    number, 413 when it is above `cap`; None when there is none or it is within the cap."""
    declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
    if declared is None:
        return None
    try:
        too_big = int(declared) > cap
    except ValueError:
        return 400, "Content-Length is not a number"
    return (413, _too_large(cap)) if too_big else None


class _CappedBody:
    """One request's receive and send, counting the body as it streams in: past `cap` bytes the client
    gets 413 at once (unless the app has started its answer) and the app sees a disconnect, its own
    answer dropped."""

    def __init__(self, receive: Receive, send: Send, cap: int) -> None:
        self._receive = receive
        self._send = send
        self.cap = cap
        self.seen = 0
        self.started = False
        self.refused = False

    async def receive(self) -> Message:
        if self.refused:
            return {"type": "http.disconnect"}
        message = await self._receive()
        if message["type"] == "http.request":
            self.seen += len(message.get("body", b""))
            if self.seen > self.cap:  # answer now; the app sees the client gone and its answer is dropped
                await self._refuse()
                return {"type": "http.disconnect"}
        return message

    async def _refuse(self) -> None:
        self.refused = True
        if not self.started:
            self.started = True
            await _refuse(self._send, 413, _too_large(self.cap))

    async def send(self, message: Message) -> None:
        if self.refused:
            return
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)


class BodyLimit:
    def __init__(self, app: ASGIApp, caps: Sequence[tuple[str, int]] = DEFAULT_CAPS) -> None:
        self.app = app
        self.caps = caps

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = cap_for(scope.get("path", ""), self.caps)
        refusal = _declared_refusal(scope, cap)
        if refusal is not None:
            await _refuse(send, *refusal)
            return
        body = _CappedBody(receive, send, cap)
        try:
            await self.app(scope, body.receive, body.send)
        except Exception:
            if not body.refused:
                raise  # the app's own error; a refused body's disconnect error is expected


class ApiConcurrency:
    """Bounds the API requests in flight (and waiting) so load cannot pile up without end."""

    def __init__(self, app: ASGIApp, limit: int = 4, queue: int = 16, retry_after: int = 2,
                 prefix: str = "/api/", exempt: Sequence[str] = ("/api/v1/events/",)) -> None:
        self.app = app
        self.exempt = tuple(exempt)  # the alerting path itself: ingest batches its own load
        self.limit = limit
        self.queue = queue
        self.retry_after = str(retry_after).encode()
        self.prefix = prefix
        self.refused = 0
        self._slots = asyncio.Semaphore(limit)
        self._waiting = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(self.prefix) or path.startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        if self._slots.locked() and self._waiting >= self.queue:
            self.refused += 1
            await _refuse(send, 503, "opsbook is busy; try again shortly",
                          [(b"retry-after", self.retry_after)])
            return
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        try:
            await self.app(scope, receive, send)
        finally:
            self._slots.release()


def _depth(value: Any, limit: int) -> None:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            raise Invalid(f"JSON nested deeper than {limit} levels")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)


def loads_limited(body: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON, refusing (Invalid) what is not JSON or nests deeper than `max_depth`."""
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeDecodeError:
        raise Invalid("the body is not UTF-8") from None
    try:
        value = json.loads(text)
    except RecursionError:  # the parser's own nesting limit (about 1,000 levels)
        raise Invalid(f"JSON nested deeper than {max_depth} levels") from None
    except ValueError as exc:
        raise Invalid(f"not valid JSON: {exc}") from None
    if text.count("[") + text.count("{") > max_depth:  # only then can it nest too deep
        _depth(value, max_depth)
    return value
