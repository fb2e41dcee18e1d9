"""The `tcp` check kind: connect to host:port and measure the connect time; optionally send and expect bytes.

Also home of `describe_os_error`, the human wording of connection failures that the http and tls kinds share.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import time
from typing import Literal

from pydantic import Field

from opsbook.checks.result import CheckResult
from opsbook.checks.spec import CheckSpec, RunContext
from opsbook.config.types import format_duration

READ_CAP = 64 * 1024
"""The most bytes read while waiting for `expect`."""

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


class TcpCheck(CheckSpec):
    """Opens a TCP connection; up when it connects (and, with `expect`, when the reply contains it)."""

    kind: Literal["tcp"]
    host: str = Field(min_length=1, description="Host name or IP address to connect to.")
    port: int = Field(ge=1, le=65535, description="TCP port.")
    send: str | None = Field(
        default=None,
        description='Text sent once connected (UTF-8), e.g. "PING\\r\\n" in a double-quoted string.',
    )
    expect: str | None = Field(
        default=None,
        description=f"Text the reply must contain; reading stops once it is seen (at most {READ_CAP} bytes).",
    )

    def target(self) -> str:
        return f"{self.host}:{self.port}"

    async def run(self, ctx: RunContext) -> CheckResult:
        timeout = self.timeout.total_seconds()
        phase = "while connecting"
        started = time.perf_counter()
        writer: asyncio.StreamWriter | None = None
        received = b""
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(self.host, self.port)
                connect_ms = (time.perf_counter() - started) * 1000
                if self.send is not None:
                    phase = "while sending"
                    writer.write(self.send.encode())
                    await writer.drain()
                if self.expect is not None:
                    wanted = self.expect.encode()
                    phase = f"waiting for {self.expect!r}"
                    while wanted not in received and len(received) < READ_CAP:
                        chunk = await reader.read(READ_CAP - len(received))
                        if not chunk:
                            break
                        received += chunk
        except TimeoutError:
            got = f" (received {show_bytes(received)})" if received else ""
            return CheckResult.down(f"timed out after {format_duration(self.timeout)} {phase}{got}")
        except OSError as exc:
            return CheckResult.down(describe_os_error(exc, self.host))
        finally:
            if writer is not None:
                writer.close()
        latency_ms = (time.perf_counter() - started) * 1000
        if self.expect is not None and self.expect.encode() not in received:
            why = "the connection closed" if len(received) < READ_CAP else f"{READ_CAP} bytes were read"
            got = show_bytes(received) or "nothing"
            return CheckResult.down(
                f"expected {self.expect!r} in the reply, but {why}; received {got}",
                latency_ms,
                connect_ms=connect_ms,
            )
        return CheckResult.up(latency_ms, f"connected in {connect_ms:.1f}ms", connect_ms=connect_ms)
