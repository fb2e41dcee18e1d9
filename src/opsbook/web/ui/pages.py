"""What every UI page shares: the signed-in user (or a redirect to /login), role checks, rendering, and the
page a person gets when something is not there or not allowed (not the API's JSON)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from opsbook.auth.roles import Principal, Role
from opsbook.runbooks.commands import opsbook_command
from opsbook.runtime import Runtime
from opsbook.web.ui.templating import environment

NAV = [
    ("/ui/", "Dashboard"),
    ("/ui/incidents", "Incidents"),
    ("/ui/alerts", "Alerts"),
    ("/ui/silences", "Silences"),
    ("/ui/maintenance", "Maintenance"),
    ("/ui/oncall", "On-call"),
    ("/ui/runbooks", "Runbooks"),
    ("/ui/oplog", "Ops log"),
    ("/ui/deploys", "Deploys"),
    ("/ui/capacity", "Capacity"),
    ("/ui/backups", "Backups"),
    ("/ui/secrets", "Secrets"),
    ("/ui/chores", "Chores"),
    ("/ui/slo", "SLOs"),
    ("/ui/subscribers", "Subscribers"),
    ("/ui/cluster", "Cluster"),
    ("/ui/audit", "Audit"),
    ("/status", "Status page"),
]


class LoginRequired(Exception):
    """Raised by page dependencies when no one is signed in; answered with a redirect to /login."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


def login_redirect(request: Request, exc: LoginRequired) -> Response:
    target = "/login?next=" + quote(exc.next_url, safe="")
    if request.headers.get("hx-request"):
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


async def error_page(request: Request, exc: StarletteHTTPException) -> Response:
    """Under /ui/, an HTML page saying what is not there or not allowed, with the way back (a link from an
    old message may name an alert or a procedure that has gone); elsewhere, and for htmx, the API's JSON.
    Who is not signed in signs in first, then sees it."""
    if not request.url.path.startswith("/ui/") or request.headers.get("hx-request"):
        return await http_exception_handler(request, exc)
    if not isinstance(getattr(request.state, "principal", None), Principal):
        query = f"?{request.url.query}" if request.url.query else ""
        return login_redirect(request, LoginRequired(request.url.path + query))
    titles = {403: "Not allowed", 404: "Not found"}
    return render(request, "ui/error.html", status_code=exc.status_code, headers=dict(exc.headers or {}),
                  title=titles.get(exc.status_code, "Something went wrong"), detail=str(exc.detail))


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def viewer(request: Request) -> Principal:
    """The signed-in user of a page (any role); redirects to /login otherwise."""
    principal = getattr(request.state, "principal", None)
    if not isinstance(principal, Principal):
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(path)
    return principal


def needs(role: Role) -> Any:
    """A dependency for UI actions: signed in, and at least `role` (403 with a readable reason)."""

    def dependency(principal: Principal = Depends(viewer)) -> Principal:
        if not principal.role.allows(role):
            raise HTTPException(
                403, f"this action needs the {role.value} role; you are {principal.role.value}"
            )
        return principal

    return dependency


def render(
    request: Request, template: str, status_code: int = 200, headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    runtime = runtime_of(request)
    principal = getattr(request.state, "principal", None)
    base = {
        "request": request,
        "app_title": runtime.config.title,
        "nav": NAV,
        "principal": principal,
        "csrf_token": getattr(request.state, "csrf_token", ""),
        "tz": runtime.config.timezone,
        "now": runtime.clock.now(),
        "can_respond": isinstance(principal, Principal) and principal.role.allows(Role.RESPONDER),
        "is_admin": isinstance(principal, Principal) and principal.role.allows(Role.ADMIN),
        "flash": request.query_params.get("flash"),
        "flash_kind": request.query_params.get("kind"),
        "opsbook_command": lambda *args: opsbook_command(runtime.config.server, *args),  # as responders type
    }
    base.update(context)
    html = environment.get_template(template).render(**base)
    return HTMLResponse(html, status_code=status_code, headers=headers)


def back(url: str, message: str = "", kind: str = "ok") -> RedirectResponse:
    """After a form post: back to the page (303), with a one-line message."""
    if message:
        sep = "&" if "?" in url else "?"
        url = f"{url}{sep}flash={quote(message)}&kind={kind}"
    return RedirectResponse(url, status_code=303)
