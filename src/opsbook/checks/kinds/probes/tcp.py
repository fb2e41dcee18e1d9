"""Runs a `tcp` check: connect, optionally send, read until `expect` is seen.

Also home of `describe_os_error`, the human wording of connection failures that the http and tls probes
share.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import time

from opsbook.checks.kinds.tcp import READ_CAP, TcpCheck
from opsbook.checks.result import CheckResult
from opsbook.checks.spec import RunContext
from opsbook.config.types import format_duration

_ERRNO_WORDS = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset by the server",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.ETIMEDOUT: "connection timed out",
    errno.EADDRNOTAVAIL: "address not available",
}


def describe_os_error(exc: OSError, host: str) -> str:
    """'connection refused', "cannot resolve host 'x': ...", or the OS's own words, lower-cased."""
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve host {host!r}: {exc.strerror or exc}"
    if exc.errno in _ERRNO_WORDS:
        return _ERRNO_WORDS[exc.errno]
    if isinstance(exc, ConnectionRefusedError):  # several addresses tried: errno is lost, the type is not
        return "connection refused"
    text = exc.strerror or str(exc) or type(exc).__name__
    return f"cannot connect: {text[:1].lower()}{text[1:]}"


def show_bytes(data: bytes, limit: int = 60) -> str:
    """A short printable rendering of received bytes for messages."""
    text = repr(data[:limit])[1:]
    return text + ("…" if len(data) > limit else "")


async def probe(check: TcpCheck, ctx: RunContext) -> CheckResult:
    timeout = check.timeout.total_seconds()
    phase = "while connecting"
    started = time.perf_counter()
    writer: asyncio.StreamWriter | None = None
    received = b""
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(check.host, check.port)
            connect_ms = (time.perf_counter() - started) * 1000
            if check.send is not None:
                phase = "while sending"
                writer.write(check.send.encode())
                await writer.drain()
            if check.expect is not None:
                wanted = check.expect.encode()
                phase = f"waiting for {check.expect!r}"
                while wanted not in received and len(received) < READ_CAP:
                    chunk = await reader.read(READ_CAP - len(received))
                    if not chunk:
                        break
                    received += chunk
    except TimeoutError:
        got = f" (received {show_bytes(received)})" if received else ""
        return CheckResult.down(f"timed out after {format_duration(check.timeout)} {phase}{got}")
    except OSError as exc:
        return CheckResult.down(describe_os_error(exc, check.host))
    finally:
        if writer is not None:
            writer.close()
    latency_ms = (time.perf_counter() - started) * 1000
    if check.expect is not None and check.expect.encode() not in received:
        why = "the connection closed" if len(received) < READ_CAP else f"{READ_CAP} bytes were read"
        got = show_bytes(received) or "nothing"
        return CheckResult.down(
            f"expected {check.expect!r} in the reply, but {why}; received {got}",
            latency_ms,
            connect_ms=connect_ms,
        )
    return CheckResult.up(latency_ms, f"connected in {connect_ms:.1f}ms", connect_ms=connect_ms)
