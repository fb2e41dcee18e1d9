"""The public side of subscriptions, next to /status (no login):

- `GET /status/subscribe`: the form (e-mail or webhook; all public services or some), protected from
  cross-site posts like the login form, by a double-submitted cookie (or the session's token when the
  visitor is signed in; web/ui/middleware.py checks it before the route runs);
- `POST /status/subscribe`: the same answer whatever the address's state; 400 for a wrong address,
  429 past the per-IP limit;
- `GET|POST /status/confirm/TOKEN` and `GET|POST /status/unsubscribe/TOKEN`: the signed links. A GET
  shows a button (mail scanners open links; only the person clicking confirms or leaves); the POST acts.
  `POST /status/unsubscribe/TOKEN` is also the RFC 8058 one-click target of the `List-Unsubscribe`
  header. The token is the credential, so these need no CSRF token;
- `GET /status/maintenance.ics`: scheduled maintenance as iCalendar.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from opsbook.auth import sessions
from opsbook.errors import OpsbookError
from opsbook.runtime import Runtime
from opsbook.subscribers import service
from opsbook.subscribers.ical import maintenance_feed
from opsbook.subscribers.service import kinds_offered, public_services, visitor
from opsbook.web.ui.templating import environment

router = APIRouter(tags=["status page"], include_in_schema=False)
FORM_COOKIE = sessions.LOGIN_COOKIE  # the double-submit cookie of the public forms


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    if not runtime.config.status_page.enabled:
        raise HTTPException(404, "the status page is disabled")
    return runtime


def _offered(request: Request) -> Runtime:
    runtime = _runtime(request)
    if not runtime.config.status_page.subscribers.enabled or not kinds_offered(runtime.config):
        raise HTTPException(404, "this status page offers no subscriptions")
    return runtime


def _page(runtime: Runtime, template: str, status: int = 200, **context: object) -> HTMLResponse:
    cfg = runtime.config
    html = environment.get_template(template).render(
        title=cfg.status_page.title or cfg.title, c=cfg.status_page.colors, **context)
    return HTMLResponse(html, status_code=status, headers={"cache-control": "no-store"})


def _client(request: Request) -> str:
    return request.client.host if request.client else ""


def _form(request: Request, runtime: Runtime, status: int = 200, error: str = "", kind: str = "email",
          address: str = "", chosen: tuple[str, ...] = ()) -> HTMLResponse:
    signed_in = getattr(request.state, "csrf_token", "")
    token = signed_in or request.cookies.get(FORM_COOKIE) or sessions.new_token()
    response = _page(runtime, "status/subscribe.html", status, csrf=token, error=error, kind=kind,
                     address=address, chosen=chosen, kinds=kinds_offered(runtime.config),
                     services=public_services(runtime.config))
    if not signed_in:
        response.set_cookie(FORM_COOKIE, token, httponly=True, samesite="strict", max_age=3600,
                            secure=request.url.scheme == "https")
    return response


@router.get("/status/subscribe", response_class=HTMLResponse)
def subscribe_form(request: Request) -> HTMLResponse:
    return _form(request, _offered(request))


@router.post("/status/subscribe", response_class=HTMLResponse)
async def subscribe(request: Request, kind: str = Form("email"), address: str = Form(""),
                    service: list[str] = Form(default_factory=list)) -> HTMLResponse:
    runtime = _offered(request)
    try:
        await asyncio.to_thread(service_subscribe, runtime, _client(request), kind, address, service)
    except OpsbookError as exc:
        return _form(request, runtime, exc.http_status, str(exc), kind, address[:300], tuple(service))
    return _page(runtime, "status/subscribed.html", heading="Check your inbox",
                 text="If the address can receive our messages, a confirmation link is on its way. "
                      "Nothing is sent until it is confirmed.")


def service_subscribe(runtime: Runtime, ip: str, kind: str, address: str, services: list[str]) -> None:
    service.subscribe(runtime, visitor(ip), kind, address, services)


LINKS = {
    "confirm": ("Confirm your subscription", "Confirm", "You are subscribed",
                "You will hear of incidents and maintenance of the services you chose."),
    "unsubscribe": ("Unsubscribe", "Unsubscribe", "You are unsubscribed",
                    "You will not receive any more messages from this status page."),
}


def _link_page(request: Request, what: str, token: str) -> HTMLResponse:
    runtime = _runtime(request)
    heading, button, _done, _text = LINKS[what]
    return _page(runtime, "status/subscribed.html", heading=heading, button=button,
                 action=f"/status/{what}/{token}")


async def _link_act(request: Request, what: str, token: str) -> HTMLResponse:
    runtime = _runtime(request)
    _heading, _button, done, text = LINKS[what]
    act = service.confirm if what == "confirm" else service.unsubscribe
    try:
        await asyncio.to_thread(act, runtime, visitor(_client(request)), token)
    except OpsbookError as exc:
        return _page(runtime, "status/subscribed.html", exc.http_status, heading="This link cannot be used",
                     text=str(exc))
    return _page(runtime, "status/subscribed.html", heading=done, text=text)


@router.get("/status/confirm/{token}", response_class=HTMLResponse)
def confirm_page(request: Request, token: str) -> HTMLResponse:
    return _link_page(request, "confirm", token)


@router.post("/status/confirm/{token}", response_class=HTMLResponse)
async def confirm(request: Request, token: str) -> HTMLResponse:
    return await _link_act(request, "confirm", token)


@router.get("/status/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe_page(request: Request, token: str) -> HTMLResponse:
    return _link_page(request, "unsubscribe", token)


@router.post("/status/unsubscribe/{token}", response_class=HTMLResponse)
async def unsubscribe(request: Request, token: str) -> HTMLResponse:
    return await _link_act(request, "unsubscribe", token)


def _feed(runtime: Runtime) -> bytes:
    with runtime.sessions() as session:
        return maintenance_feed(session, runtime.config, runtime.clock.now())


@router.get("/status/maintenance.ics")
async def maintenance_calendar(request: Request) -> Response:
    runtime = _runtime(request)
    body = await asyncio.to_thread(_feed, runtime)
    max_age = int(runtime.config.status_page.max_age.total_seconds())
    return Response(body, media_type="text/calendar; charset=utf-8",
                    headers={"cache-control": f"public, max-age={max_age}"})
