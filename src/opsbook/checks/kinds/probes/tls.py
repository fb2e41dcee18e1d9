"""Runs a `tls` check: a verified handshake, then the certificate judged against the injected clock.

OpenSSL verifies the chain (system trust store, or `ca_file` for a private CA) and the host name;
the expiry is judged against the injected clock, so a test can move time past `notAfter`.
Also home of `client_context`/`load_context`, the cached client SSL contexts the http probe shares.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from opsbook.checks.kinds.probes.tcp import describe_os_error
from opsbook.checks.kinds.tls import TlsCheck
from opsbook.checks.result import CheckResult
from opsbook.checks.spec import RunContext
from opsbook.config.types import format_duration
from opsbook.timefmt import show_time

_HOSTNAME_MISMATCH = 62  # X509_V_ERR_HOSTNAME_MISMATCH
_IP_MISMATCH = 64  # X509_V_ERR_IP_ADDRESS_MISMATCH


@lru_cache(maxsize=64)
def client_context(ca_file: str | None = None, check_hostname: bool = True) -> ssl.SSLContext:
    """A verifying client context, built once per (ca_file, check_hostname): each costs milliseconds."""
    context = ssl.create_default_context(cafile=ca_file)
    context.check_hostname = check_hostname
    return context


def load_context(ca_file: str | None = None, check_hostname: bool = True) -> ssl.SSLContext | str:
    """`client_context`, or why it cannot be built (a missing or unreadable ca_file), as a message."""
    try:
        return client_context(ca_file, check_hostname)
    except (OSError, ssl.SSLError) as exc:  # not cached: the file may appear later
        return f"cannot load ca_file {ca_file!r}: {getattr(exc, 'strerror', None) or exc}"


def _name(rdns: Any, *keys: str) -> str:
    """The first of `keys` (e.g. commonName) found in a getpeercert() subject/issuer."""
    fields = {key: value for rdn in rdns or () for key, value in rdn}
    for key in keys:
        if key in fields:
            return str(fields[key])
    return "?"


def _when(value: str) -> datetime:
    return datetime.fromtimestamp(ssl.cert_time_to_seconds(value), UTC)


def _days(count: float) -> str:
    whole = int(count)
    return f"{whole} day" if whole == 1 else f"{whole} days"


def _day(value: datetime, zone: str) -> str:
    """A certificate's validity bound as people read it: in the team's zone, named."""
    return show_time(value, zone)


async def probe(check: TlsCheck, ctx: RunContext) -> CheckResult:
    context = load_context(check.ca_file, check.check_hostname)
    if isinstance(context, str):
        return CheckResult.down(context)
    started = time.perf_counter()
    phase = "while connecting"
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(check.timeout.total_seconds()):
            _, writer = await asyncio.open_connection(check.host, check.port)
            connect_ms = (time.perf_counter() - started) * 1000
            phase = "during the TLS handshake"
            await writer.start_tls(context, server_hostname=check.sni)
            cert = writer.get_extra_info("peercert")
    except TimeoutError:
        return CheckResult.down(f"timed out after {format_duration(check.timeout)} {phase}")
    except ssl.SSLCertVerificationError as exc:
        if exc.verify_code in (_HOSTNAME_MISMATCH, _IP_MISMATCH):
            return await _mismatch(check)
        return CheckResult.down(f"certificate verify failed: {exc.verify_message or exc.reason}")
    except ssl.SSLError as exc:
        return CheckResult.down(f"TLS handshake failed: {exc.reason or exc}")
    except OSError as exc:
        return CheckResult.down(describe_os_error(exc, check.host))
    finally:
        if writer is not None:
            writer.close()
    latency_ms = (time.perf_counter() - started) * 1000
    return _judge(check, cert, ctx, latency_ms, connect_ms=connect_ms, handshake_ms=latency_ms - connect_ms)


def _judge(
    check: TlsCheck, cert: dict[str, Any], ctx: RunContext, latency_ms: float, **values: float
) -> CheckResult:
    now = ctx.clock.now()
    not_after = _when(cert["notAfter"])
    not_before = _when(cert["notBefore"])
    days_left = (not_after - now).total_seconds() / 86400
    issuer = _name(cert.get("issuer"), "commonName", "organizationName")
    about = f"issued by {issuer}, expires {_day(not_after, ctx.zone)}"
    measured = {**values, "days_left": round(days_left, 3)}
    if now < not_before:
        return CheckResult.down(
            f"certificate is not valid before {_day(not_before, ctx.zone)} ({about})", latency_ms, **measured
        )
    if days_left < 0:
        return CheckResult.down(
            f"certificate expired on {_day(not_after, ctx.zone)} (issued by {issuer})", latency_ms, **measured
        )
    if days_left < check.min_days_left:
        return CheckResult.down(
            f"certificate expires in {_days(days_left)}, fewer than {check.min_days_left:g} ({about})",
            latency_ms,
            **measured,
        )
    return CheckResult.up(latency_ms, f"certificate {about} ({_days(days_left)} left)", **measured)


async def _mismatch(check: TlsCheck) -> CheckResult:
    """The name did not match: connect again without the name check only to say whom the cert is for."""
    names = "another name"
    try:
        async with asyncio.timeout(check.timeout.total_seconds()):
            _, writer = await asyncio.open_connection(check.host, check.port)
            try:
                await writer.start_tls(client_context(check.ca_file, False), server_hostname=check.sni)
                cert = writer.get_extra_info("peercert") or {}
            finally:
                writer.close()
        sans = [value for kind, value in cert.get("subjectAltName", ()) if kind in ("DNS", "IP Address")]
        names = ", ".join(sans) or _name(cert.get("subject"), "commonName")
    except (TimeoutError, OSError):
        pass
    return CheckResult.down(f"hostname mismatch: certificate is for {names}, not {check.sni}")
