"""`/status`, `/status.json` and `/status/feed.atom`: no login, served from the cached snapshot."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from opsbook.statuspage.cache import StatusCache

router = APIRouter(tags=["status page"])


def cache_of(request: Request) -> StatusCache:
    cache: StatusCache = request.app.state.status_cache
    if not cache.runtime.config.status_page.enabled:
        raise HTTPException(404, "the status page is disabled")
    return cache


async def _serve(request: Request, kind: str, media_type: str) -> Response:
    cache = cache_of(request)
    rendered = await cache.get()
    headers = {
        "ETag": rendered.etag,
        "Cache-Control": f"public, max-age={int(cache.runtime.config.status_page.max_age.total_seconds())}",
    }
    if request.headers.get("if-none-match") == rendered.etag:
        return Response(status_code=304, headers=headers)
    body = {"html": rendered.html, "json": rendered.json, "atom": rendered.atom}[kind]
    return Response(body, media_type=media_type, headers=headers)


@router.get("/status", include_in_schema=False)
async def status_page(request: Request) -> Response:
    return await _serve(request, "html", "text/html; charset=utf-8")


@router.get("/status.json")
async def status_json(request: Request) -> Response:
    """The public status page as JSON: page, overall state, services with daily uptime, incidents."""
    return await _serve(request, "json", "application/json")


@router.get("/status/feed.atom", include_in_schema=False)
async def status_feed(request: Request) -> Response:
    return await _serve(request, "atom", "application/atom+xml; charset=utf-8")


class StatusFastPath:
    """ASGI middleware answering GET /status, /status.json and /status/feed.atom straight from the cache,
    before routing, so a crowd of readers costs as little event-loop time as possible (the checks share
    the loop). Anything else, and a disabled page, goes on to the app (the routes above)."""

    KINDS = {
        "/status": ("html", b"text/html; charset=utf-8"),
        "/status.json": ("json", b"application/json"),
        "/status/feed.atom": ("atom", b"application/atom+xml; charset=utf-8"),
    }

    def __init__(self, app: ASGIApp, cache: StatusCache) -> None:
        self.app = app
        self.cache = cache
        seconds = int(cache.runtime.config.status_page.max_age.total_seconds())
        self.max_age = f"public, max-age={seconds}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = self.KINDS.get(scope.get("path", "")) if scope["type"] == "http" else None
        if kind is None or scope["method"] != "GET" or not self.cache.runtime.config.status_page.enabled:
            await self.app(scope, receive, send)
            return
        rendered = await self.cache.get()
        etag = rendered.etag.encode()
        headers = [(b"etag", etag), (b"cache-control", self.max_age)]
        if any(k == b"if-none-match" and v == etag for k, v in scope["headers"]):
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        body = getattr(rendered, kind[0])
        headers += [(b"content-type", kind[1]), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
