"""Sign in and sign out: `/login` (GET form, POST credentials) and `/logout`, through the use cases
`auth.service.sign_in` and `sign_out` (which audit every attempt)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from opsbook.auth import service, sessions
from opsbook.auth.roles import Principal
from opsbook.web.ui.pages import render, runtime_of, viewer
from opsbook.words import count

router = APIRouter(include_in_schema=False)


def safe_next(value: str | None) -> str:
    """Only a path on this server: never `//evil.example` or `https://...`."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/ui/"
    return value


def _secure(request: Request) -> bool:
    return runtime_of(request).config.base_url.startswith("https://")


def _login_page(
    request: Request, next_url: str, error: str = "", username: str = "", status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    token = request.cookies.get(sessions.LOGIN_COOKIE) or sessions.new_token()
    response = render(
        request, "ui/login.html", status_code=status_code, headers=headers, login_csrf=token,
        next=safe_next(next_url), error=error, username=username,
    )
    response.set_cookie(
        sessions.LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request), max_age=3600
    )
    return response


@router.get("/login")
def login_form(request: Request, next: str = "/ui/") -> Response:
    if getattr(request.state, "principal", None) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, next)


@router.post("/login")
async def login_submit(
    request: Request,
    username: str = Form(""),
    password: str = Form(""),
    next: str = Form("/ui/"),
) -> Response:
    source = request.client.host if request.client else ""
    result = await asyncio.to_thread(service.sign_in, runtime_of(request), username, password, source)
    if result.outcome is sessions.LoginOutcome.THROTTLED:
        wait = int(result.retry_after.total_seconds()) if result.retry_after else 60
        minutes = max(1, -(-wait // 60))
        return _login_page(
            request, next, f"Too many failed sign-ins. Try again in {count(minutes, 'minute')}.", username,
            429,
            headers={"Retry-After": str(wait)},
        )
    if result.outcome is sessions.LoginOutcome.INVALID:
        return _login_page(request, next, "Wrong user name or password.", username, 401)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        sessions.COOKIE, result.token, httponly=True, samesite="lax", secure=_secure(request),
        max_age=int(sessions.MAX_AGE.total_seconds()),
    )
    response.delete_cookie(sessions.LOGIN_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, principal: Principal = Depends(viewer)) -> Response:
    token = getattr(request.state, "session_token", None)
    if token:
        service.sign_out(runtime_of(request), principal, token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(sessions.COOKIE)
    return response
