"""The `tcp` check kind: connect to host:port and measure the connect time; optionally send and expect bytes.

The probe that runs it is `probes/tcp.py`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from opsbook.checks.spec import CheckSpec

READ_CAP = 64 * 1024
"""The most bytes read while waiting for `expect`."""


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
