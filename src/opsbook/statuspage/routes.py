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


KINDS = {
    "html": "text/html; charset=utf-8",
    "json": "application/json",
    "atom": "application/atom+xml; charset=utf-8",
}


async def answer(
    cache: StatusCache, kind: str, if_none_match: str | None
) -> tuple[int, dict[str, str], bytes]:
    """The one answer to a status page read, for the route and the fast path: status, headers, body."""
    rendered = await cache.get()
    max_age = int(cache.runtime.config.status_page.max_age.total_seconds())
    headers = {"etag": rendered.etag, "cache-control": f"public, max-age={max_age}"}
    if if_none_match == rendered.etag:
        return 304, headers, b""
    body: bytes = getattr(rendered, kind)
    headers["content-type"] = KINDS[kind]
    return 200, headers, body


async def _serve(request: Request, kind: str) -> Response:
    status, headers, body = await answer(cache_of(request), kind, request.headers.get("if-none-match"))
    media_type = headers.pop("content-type", None)
    return Response(body, status_code=status, headers=headers, media_type=media_type)


@router.get("/status", include_in_schema=False)
async def status_page(request: Request) -> Response:
    return await _serve(request, "html")


@router.get("/status.json")
async def status_json(request: Request) -> Response:
    """The public status page as JSON: page, overall state, services with daily uptime, incidents."""
    return await _serve(request, "json")


@router.get("/status/feed.atom", include_in_schema=False)
async def status_feed(request: Request) -> Response:
    return await _serve(request, "atom")


class StatusFastPath:
    """ASGI middleware answering GET /status, /status.json and /status/feed.atom straight from the cache,
    before routing, so a crowd of readers costs as little event-loop time as possible (the checks share
    the loop). Anything else, and a disabled page, goes on to the app (the routes above)."""

    PATHS = {"/status": "html", "/status.json": "json", "/status/feed.atom": "atom"}

    def __init__(self, app: ASGIApp, cache: StatusCache) -> None:
        self.app = app
        self.cache = cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = self.PATHS.get(scope.get("path", "")) if scope["type"] == "http" else None
        if kind is None or scope["method"] != "GET" or not self.cache.runtime.config.status_page.enabled:
            await self.app(scope, receive, send)
            return
        etag = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"if-none-match"), None)
        status, headers, body = await answer(self.cache, kind, etag)
        raw = [(k.encode(), v.encode()) for k, v in headers.items()]
        raw.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})
