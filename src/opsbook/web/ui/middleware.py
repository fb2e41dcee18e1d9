"""ASGI middleware: who a browser is (from its session cookie) and the CSRF check of every mutating request.

For each HTTP request carrying the session cookie and no `Authorization` header, the session is looked up
and `request.state.principal` / `request.state.csrf_token` are set, so every page and every API route
(`web/deps.current_principal`) sees the signed-in user. Then, for POST/PUT/PATCH/DELETE:

- from a signed-in session: the session's CSRF token must come in the `X-CSRF-Token` header or in the
  `csrf_token` field of a url-encoded form, or the request is refused with 403 before any route runs;
- to /login and /status/subscribe (public forms): the form's `csrf_token` must equal the form cookie
  (double submit);
- with `Authorization: Bearer` (scripts, the CLI): no cookie is consulted, so no CSRF token is needed;
- to a signed acknowledgement link (`/ack/...`) or a subscriber's confirm or unsubscribe link
  (`/status/confirm/...`, `/status/unsubscribe/...`): the signed token in the URL is the proof.

A plain ASGI middleware (not BaseHTTPMiddleware), so requests without a cookie — the status page crowd —
pass through at almost no cost.
"""

from __future__ import annotations

import asyncio
import json
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opsbook.auth import callers, sessions
from opsbook.runtime import Runtime

LOGIN_PATH = "/login"
DOUBLE_SUBMIT = (LOGIN_PATH, "/status/subscribe")
"""Forms posted without a session, checked against the cookie their page set (`sessions.LOGIN_COOKIE`)."""
CSRF_EXEMPT = ("/ack/", "/status/confirm/", "/status/unsubscribe/")
"""Signed links (acknowledgements; a status page subscriber's confirm and unsubscribe links, the latter
also posted one-click by mail clients, RFC 8058): the token in the URL is the credential, not the session."""
MAX_FORM = 1_000_000


def _cookies(raw: str) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except Exception:
        return {}
    return {k: m.value for k, m in jar.items()}


async def _refuse(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class SessionMiddleware:
    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    def _resolve(self, token: str, source: str) -> sessions.BrowserSession | None:
        """Found with reads only: a database refusing writes still serves signed-in readers."""
        return callers.browser_caller(self.runtime, token, source)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        cookies = _cookies(headers.get("cookie", "")) if "cookie" in headers else {}
        token = cookies.get(sessions.COOKIE)
        state = scope.setdefault("state", {})
        browser: sessions.BrowserSession | None = None
        if token and "authorization" not in headers:
            source = scope["client"][0] if scope.get("client") else ""
            browser = await asyncio.to_thread(self._resolve, token, source)
            if browser is not None:
                state["principal"] = browser.principal
                state["csrf_token"] = browser.csrf_token
                state["session_token"] = token
        if scope["method"] not in sessions.MUTATING or scope["path"].startswith(CSRF_EXEMPT):
            await self.app(scope, receive, send)
            return
        if browser is not None:
            expected: str | None = browser.csrf_token
        elif scope["path"] in DOUBLE_SUBMIT:
            expected = cookies.get(sessions.LOGIN_COOKIE)
        else:
            await self.app(scope, receive, send)  # no browser session: the route's own auth decides
            return
        supplied = headers.get(sessions.CSRF_HEADER)
        form = headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
        if supplied is None and form:
            body, receive = await _buffer(receive)
            if body is None:
                await _refuse(send, 413, "request body too large")
                return
            fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
            values = fields.get(sessions.CSRF_FIELD)
            supplied = values[0] if values else None
        if not sessions.csrf_matches(expected, supplied):
            await _refuse(send, 403, "missing or wrong CSRF token; reload the page and try again")
            return
        await self.app(scope, receive, send)


async def _buffer(receive: Receive) -> tuple[bytes | None, Receive]:
    """Read the whole request body and return it with a `receive` that replays it to the app."""
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM:
            return None, receive
        chunks.append(chunk)
        more = message.get("more_body", False)
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay
