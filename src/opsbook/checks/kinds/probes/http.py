"""Runs an `http` check: one request with aiohttp, the body read up to `max_body_bytes`, then judged.

Requests go through one `ClientSession` per event loop and mode, made on first use and closed by
`close_sessions()`:
- by default its connector has `force_close=True`: every check opens a fresh connection (so the
  connect time is measured honestly) while the DNS cache and SSL contexts are shared;
- with `keepalive: true` the check uses a pooled session whose connections are reused.
Neither session keeps cookies, so checks never leak state into each other. The body is read up to
`max_body_bytes` and the connection is dropped there: a 50 MB answer costs only what was read.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import weakref
from datetime import timedelta

import aiohttp

from opsbook.checks.kinds.http import HttpCheck, format_size
from opsbook.checks.kinds.probes.tcp import describe_os_error
from opsbook.checks.kinds.probes.tls import load_context
from opsbook.checks.result import CheckResult, Status
from opsbook.checks.spec import RunContext
from opsbook.config.types import format_duration

USER_AGENT = "opsbook-check/1"

_SESSIONS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[bool, aiohttp.ClientSession]] = (
    weakref.WeakKeyDictionary()
)


def _session(keepalive: bool) -> aiohttp.ClientSession:
    """This loop's shared session for the mode; made on first use."""
    loop = asyncio.get_running_loop()
    sessions = _SESSIONS.setdefault(loop, {})
    session = sessions.get(keepalive)
    if session is None or session.closed:
        connector = aiohttp.TCPConnector(
            force_close=not keepalive,
            limit=0,  # the scheduler bounds concurrency; the connector must not queue checks
            keepalive_timeout=60 if keepalive else None,
        )
        session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=None),  # each check applies its own deadline
            headers={"User-Agent": USER_AGENT},
        )
        sessions[keepalive] = session
    return session


async def close_sessions() -> None:
    """Close this loop's shared sessions (call at shutdown; safe to call when none were made)."""
    sessions = _SESSIONS.pop(asyncio.get_running_loop(), {})
    for session in sessions.values():
        await session.close()


async def probe(check: HttpCheck, ctx: RunContext) -> CheckResult:
    started = time.perf_counter()
    phase = "waiting for the response"
    status = 0
    chunks: list[bytes] = []
    tls: ssl.SSLContext | bool = check.verify_tls  # True: aiohttp's default verifying context
    if check.verify_tls and check.ca_file:
        tls_or_why = load_context(check.ca_file)  # cached after the first run
        if isinstance(tls_or_why, str):
            return CheckResult.down(tls_or_why)
        tls = tls_or_why
    host = check.request_url.host or ""
    try:
        async with asyncio.timeout(check.timeout.total_seconds()):
            async with _session(check.keepalive).request(
                check.method, check.request_url, ssl=tls, **check.request_options
            ) as response:
                ttfb_ms = (time.perf_counter() - started) * 1000
                status = response.status
                phase = "while reading the body"
                body, complete = await _read(check, response, chunks)
                if not complete:
                    response.close()  # drop the connection rather than download the rest
                charset = response.charset or "utf-8"
                reason = response.reason or ""
                redirects = len(response.history)
    except TimeoutError:
        got = f" (status {status}, {sum(map(len, chunks))} bytes read)" if status else ""
        return CheckResult.down(f"timed out after {format_duration(check.timeout)} {phase}{got}")
    except aiohttp.TooManyRedirects:
        return CheckResult.down(f"too many redirects (more than {check.max_redirects})")
    except aiohttp.ClientError as exc:
        return CheckResult.down(_describe(exc, host, phase))
    except OSError as exc:
        return CheckResult.down(describe_os_error(exc, host))
    latency_ms = (time.perf_counter() - started) * 1000
    values = {"status_code": status, "body_bytes": len(body), "ttfb_ms": ttfb_ms, "redirects": redirects}
    problem = check.judge(status, reason, body, complete, charset)
    if problem:
        return CheckResult.down(problem, latency_ms, **values)
    summary = f"{status} {reason}".rstrip()
    if redirects:
        summary += f" after {redirects} redirect{'s' * (redirects > 1)}"
    if not complete:
        summary += f"; body checks saw only the first {format_size(check.max_body_bytes)}"
    if check.max_latency is not None and latency_ms > check.max_latency.total_seconds() * 1000:
        slow = format_duration(timedelta(milliseconds=round(latency_ms)))
        return CheckResult(
            Status.DEGRADED,
            latency_ms,
            f"slow: {slow}, more than the maximum {format_duration(check.max_latency)} ({summary})",
            values,
        )
    return CheckResult.up(latency_ms, summary, **values)


async def _read(
    check: HttpCheck, response: aiohttp.ClientResponse, chunks: list[bytes]
) -> tuple[bytes, bool]:
    """Up to max_body_bytes of the body (collected in `chunks` as it comes), and whether that was all."""
    if check.method == "HEAD":
        return b"", True
    cap = check.max_body_bytes
    size = 0
    while size <= cap:
        chunk = await response.content.read(cap + 1 - size)  # one byte more tells "larger" from "exactly"
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    body = b"".join(chunks)
    return (body, True) if size <= cap else (body[:cap], False)


def _describe(exc: aiohttp.ClientError, host: str, phase: str) -> str:
    """A human sentence for an aiohttp failure."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        error = exc.certificate_error
        detail = getattr(error, "verify_message", None) or getattr(error, "reason", None) or str(error)
        return f"TLS certificate verify failed: {detail}"
    if isinstance(exc, aiohttp.ClientConnectorSSLError):
        return f"TLS handshake failed: {getattr(exc, 'reason', None) or exc.os_error}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return describe_os_error(exc.os_error, host)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return f"the server closed the connection {phase}"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return f"the body was cut off: {exc}"
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"invalid HTTP response: {exc.message}"
    if isinstance(exc, aiohttp.InvalidURL):
        return f"invalid URL: {exc}"
    if isinstance(exc, OSError):
        return describe_os_error(exc, host)
    return f"{type(exc).__name__}: {exc}"
