"""The `tls` check kind: days until the certificate expires, hostname match, issuer.

The probe that runs it is `probes/tls.py`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from opsbook.checks.spec import CheckSpec


class TlsCheck(CheckSpec):
    """Connects, completes a verified TLS handshake and judges the server certificate."""

    kind: Literal["tls"]
    host: str = Field(min_length=1, description="Host name or IP address to connect to.")
    port: int = Field(default=443, ge=1, le=65535, description="TCP port.")
    server_name: str | None = Field(
        default=None, description="Name sent as SNI and matched against the certificate; default: host."
    )
    min_days_left: float = Field(
        default=14, ge=0, description="Fewer days than this until the certificate expires is a failure."
    )
    check_hostname: bool = Field(
        default=True, description="Fail when the certificate is not valid for the name."
    )
    ca_file: str | None = Field(
        default=None, description="PEM file of the CA(s) to trust instead of the system store (private CAs)."
    )

    @property
    def sni(self) -> str:
        return self.server_name or self.host

    def target(self) -> str:
        named = f" ({self.server_name})" if self.server_name and self.server_name != self.host else ""
        return f"{self.host}:{self.port}{named}"
