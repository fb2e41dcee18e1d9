"""`/status`, `/status.json` and `/status/feed.atom`: no login, served from the cached snapshot."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

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
