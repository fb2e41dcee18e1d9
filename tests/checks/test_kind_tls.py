"""The tls check kind against real TLS servers on 127.0.0.1 with certificates made by trustme.

OpenSSL checks the chain against the real time; expiry is judged against the injected clock, so the
tests make a certificate "expire" by moving the FakeClock, and make short-lived ones with trustme.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import trustme
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from opsbook.checks.kinds.probes.tls import probe
from opsbook.checks.kinds.tls import TlsCheck
from opsbook.checks.models import CheckStateRow
from opsbook.checks.result import Status
from opsbook.checks.spec import RunContext
from opsbook.clock import FakeClock
from opsbook.config.loader import parse_config
from opsbook.config.yamlpos import ConfigError
from opsbook.pipeline import Pipeline
from tests.backups.support import settle
from tests.support import make_runtime

BERLIN = "Europe/Berlin"  # the team's zone in these tests: a time in a message is said in it, named


def check(port: int, **fields: Any) -> TlsCheck:
    return TlsCheck.model_validate(
        {"kind": "tls", "name": "cert", "host": "127.0.0.1", "port": port, **fields}
    )


@pytest.fixture
def now() -> datetime:
    """Real time, whole seconds: OpenSSL verifies against it, so the fake clock starts there."""
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def fake(now: datetime) -> FakeClock:
    return FakeClock(start=now)


def in_berlin(instant: datetime) -> str:
    """`2026-03-09 04:01 CET`: the wall clock of Berlin at `instant` and the zone's name then."""
    local = instant.astimezone(ZoneInfo(BERLIN))
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def issue(ca: trustme.CA, now: datetime, *names: str, days: float) -> trustme.LeafCert:
    # trustme takes naive UTC datetimes
    start = (now - timedelta(days=1)).replace(tzinfo=None)
    return ca.issue_cert(
        *names, not_before=start, not_after=(now + timedelta(days=days)).replace(tzinfo=None)
    )


async def test_valid_certificate(
    tls_server: Any, ca: trustme.CA, ca_file: str, now: datetime, fake: FakeClock
) -> None:
    port = await tls_server(issue(ca, now, "localhost", days=90))
    result = await probe(check(port, server_name="localhost", ca_file=ca_file), RunContext(fake, BERLIN))
    assert result.status is Status.UP, result.message
    assert result.values["days_left"] == pytest.approx(90, abs=0.01)
    expiry = in_berlin(now + timedelta(days=90))
    assert result.message == f"certificate issued by {_issuer(ca)}, expires {expiry} (90 days left)"
    assert result.values["handshake_ms"] > 0 and result.values["connect_ms"] > 0


def _issuer(ca: trustme.CA) -> str:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    cert = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    return str(cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value)


async def test_about_to_expire(
    tls_server: Any, ca: trustme.CA, ca_file: str, now: datetime, fake: FakeClock
) -> None:
    port = await tls_server(issue(ca, now, "localhost", days=3.5))
    result = await probe(
        check(port, server_name="localhost", ca_file=ca_file, min_days_left=14), RunContext(fake)
    )
    assert result.status is Status.DOWN
    assert result.message.startswith("certificate expires in 3 days, fewer than 14 (issued by ")
    assert result.values["days_left"] == pytest.approx(3.5, abs=0.01)
    lenient = await probe(
        check(port, server_name="localhost", ca_file=ca_file, min_days_left=3), RunContext(fake)
    )
    assert lenient.status is Status.UP


async def test_expiry_follows_the_injected_clock(
    tls_server: Any, ca: trustme.CA, ca_file: str, now: datetime, fake: FakeClock
) -> None:
    port = await tls_server(issue(ca, now, "localhost", days=30))
    spec = check(port, server_name="localhost", ca_file=ca_file, min_days_left=14)
    assert (await probe(spec, RunContext(fake))).status is Status.UP
    await fake.advance(timedelta(days=20))
    soon = await probe(spec, RunContext(fake))
    assert soon.status is Status.DOWN and soon.message.startswith("certificate expires in 10 days")
    await fake.advance(timedelta(days=11))
    expired = await probe(spec, RunContext(fake, BERLIN))
    assert expired.status is Status.DOWN
    expiry = in_berlin(now + timedelta(days=30))
    assert expired.message == f"certificate expired on {expiry} (issued by {_issuer(ca)})"
    assert expired.values["days_left"] == pytest.approx(-1, abs=0.01)


async def test_not_yet_valid_by_the_injected_clock(
    tls_server: Any, ca: trustme.CA, ca_file: str, now: datetime
) -> None:
    port = await tls_server(issue(ca, now, "localhost", days=90))
    past = FakeClock(start=now - timedelta(days=3))
    result = await probe(check(port, server_name="localhost", ca_file=ca_file), RunContext(past, BERLIN))
    assert result.status is Status.DOWN
    assert result.message == (f"certificate is not valid before {in_berlin(now - timedelta(days=1))} "
                              f"(issued by {_issuer(ca)}, expires {in_berlin(now + timedelta(days=90))})")


async def test_hostname_mismatch(
    tls_server: Any, ca: trustme.CA, ca_file: str, now: datetime, fake: FakeClock
) -> None:
    port = await tls_server(issue(ca, now, "x.test", "*.y.test", days=90))
    result = await probe(check(port, server_name="localhost", ca_file=ca_file), RunContext(fake))
    assert (result.status, result.message) == (
        Status.DOWN,
        "hostname mismatch: certificate is for x.test, *.y.test, not localhost",
    )
    wildcard = await probe(check(port, server_name="api.y.test", ca_file=ca_file), RunContext(fake))
    assert wildcard.status is Status.UP, wildcard.message
    unchecked = await probe(
        check(port, server_name="localhost", ca_file=ca_file, check_hostname=False), RunContext(fake)
    )
    assert unchecked.status is Status.UP


async def test_ip_address_match(
    tls_server: Any, ca: trustme.CA, ca_file: str, now: datetime, fake: FakeClock
) -> None:
    port = await tls_server(issue(ca, now, "127.0.0.1", days=90))
    assert (await probe(check(port, ca_file=ca_file), RunContext(fake))).status is Status.UP
    other = await probe(check(port, server_name="localhost", ca_file=ca_file), RunContext(fake))
    assert other.message == "hostname mismatch: certificate is for 127.0.0.1, not localhost"


async def test_untrusted_ca(tls_server: Any, ca: trustme.CA, now: datetime, fake: FakeClock) -> None:
    port = await tls_server(issue(ca, now, "localhost", days=90))
    result = await probe(
        check(port, server_name="localhost"), RunContext(fake)
    )  # system store: test CA unknown
    assert result.status is Status.DOWN
    assert result.message == "certificate verify failed: unable to get local issuer certificate"


async def test_not_tls(silent_server: Any, fake: FakeClock) -> None:
    result = await probe(check(silent_server.port, timeout="200ms"), RunContext(fake))
    assert (result.status, result.message) == (Status.DOWN, "timed out after 200ms during the TLS handshake")


async def test_connection_refused(closed_port: int, fake: FakeClock) -> None:
    result = await probe(check(closed_port), RunContext(fake))
    assert (result.status, result.message) == (Status.DOWN, "connection refused")


async def test_missing_ca_file(tmp_path: Any, fake: FakeClock) -> None:
    missing = str(tmp_path / "nope.pem")
    result = await probe(check(443, ca_file=missing), RunContext(fake))
    assert (result.status, result.message) == (
        Status.DOWN,
        f"cannot load ca_file {missing!r}: No such file or directory",
    )


def test_target_and_defaults() -> None:
    spec = TlsCheck(kind="tls", name="cert", host="example.com")
    assert (spec.port, spec.min_days_left, spec.sni) == (443, 14, "example.com")
    assert spec.target() == "example.com:443"
    assert check(8443, server_name="api.test").target() == "127.0.0.1:8443 (api.test)"


def test_config_errors() -> None:
    text = """\
services:
  - name: web
    checks:
      - kind: tls
        name: cert
        host: example.com
        min_days_left: -1
        verify: false
"""
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "opsbook.yaml", env={})
    assert [str(i) for i in caught.value.issues] == [
        "opsbook.yaml:7: services[0].checks[0].min_days_left: Input should be greater than or equal to 0",
        "opsbook.yaml:8: services[0].checks[0].verify: unknown field",
    ]


async def test_the_pipelines_scheduler_says_the_expiry_in_the_team_zone(
    tls_server: Any, ca: trustme.CA, ca_file: str, now: datetime, fake: FakeClock, sqlite_engine: Engine
) -> None:
    """`timezone:` of the config reaches the checks the pipeline runs (RunContext.zone), not only a test's."""
    port = await tls_server(issue(ca, now, "localhost", days=90))
    runtime = make_runtime(sqlite_engine, fake, f"""
timezone: {BERLIN}
services:
  - name: web
    checks:
      - {{name: cert, kind: tls, host: 127.0.0.1, port: {port}, server_name: localhost, ca_file: "{ca_file}"}}
""")
    pipeline = Pipeline(runtime)
    await pipeline.start()
    try:
        def message() -> str | None:
            with Session(sqlite_engine) as s:
                row = s.get(CheckStateRow, "web/cert")
                return row.last_message if row is not None else None

        await settle(pipeline, lambda: bool(message()))
        expiry = in_berlin(now + timedelta(days=90))
        assert message() == f"certificate issued by {_issuer(ca)}, expires {expiry} (90 days left)"
    finally:
        await pipeline.stop()
