"""The tcp check kind against real sockets on 127.0.0.1."""

from __future__ import annotations

from typing import Any

import pytest

from opsbook.checks.kinds.probes.tcp import probe
from opsbook.checks.kinds.tcp import TcpCheck
from opsbook.checks.result import Status
from opsbook.checks.spec import RunContext
from opsbook.clock import FakeClock
from opsbook.config.loader import parse_config
from opsbook.config.yamlpos import ConfigError


def check(port: int, **fields: Any) -> TcpCheck:
    return TcpCheck.model_validate(
        {"kind": "tcp", "name": "probe", "host": "127.0.0.1", "port": port, **fields}
    )


@pytest.fixture
def ctx(clock: FakeClock) -> RunContext:
    return RunContext(clock=clock)


def port_of(server: Any) -> int:
    return int(server.url.rsplit(":", 1)[1])


async def test_connects(silent_server: Any, ctx: RunContext) -> None:
    result = await probe(check(silent_server.port), ctx)
    assert result.status is Status.UP
    assert result.values["connect_ms"] > 0
    assert result.message.startswith("connected in ")
    assert silent_server.accepted == 1


async def test_connection_refused(closed_port: int, ctx: RunContext) -> None:
    result = await probe(check(closed_port), ctx)
    assert (result.status, result.message) == (Status.DOWN, "connection refused")


async def test_unresolvable_host(ctx: RunContext) -> None:
    spec = TcpCheck(kind="tcp", name="probe", host="no-such-host.invalid", port=80)
    result = await probe(spec, ctx)
    assert result.status is Status.DOWN
    assert result.message.startswith("cannot resolve host 'no-such-host.invalid'")


async def test_send_and_expect(http_server: Any, ctx: RunContext) -> None:
    request = "GET /ok HTTP/1.0\r\nHost: x\r\n\r\n"
    good = await probe(check(port_of(http_server), send=request, expect="200 OK"), ctx)
    assert good.status is Status.UP, good.message
    bad = await probe(check(port_of(http_server), send=request, expect="SSH-2.0"), ctx)
    assert bad.status is Status.DOWN
    assert bad.message.startswith(
        "expected 'SSH-2.0' in the reply, but the connection closed; received 'HTTP/1.0 200 OK\\r\\n"
    )


async def test_expect_times_out_on_a_silent_server(silent_server: Any, ctx: RunContext) -> None:
    result = await probe(check(silent_server.port, expect="+PONG", timeout="200ms"), ctx)
    assert (result.status, result.message) == (Status.DOWN, "timed out after 200ms waiting for '+PONG'")


def test_target() -> None:
    assert check(5432).target() == "127.0.0.1:5432"


@pytest.mark.parametrize(
    ("port", "expected"),
    [
        ("0", "opsbook.yaml:7: services[0].checks[0].port: Input should be greater than or equal to 1"),
        ("70000", "opsbook.yaml:7: services[0].checks[0].port: Input should be less than or equal to 65535"),
        ("ssh", "opsbook.yaml:7: services[0].checks[0].port: Input should be a valid integer"),
    ],
)
def test_config_errors(port: str, expected: str) -> None:
    text = f"""\
services:
  - name: db
    checks:
      - kind: tcp
        name: port
        host: 127.0.0.1
        port: {port}
"""
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "opsbook.yaml", env={})
    assert str(caught.value).startswith(expected), str(caught.value)


def test_host_and_port_are_required() -> None:
    text = "services:\n  - name: db\n    checks:\n      - kind: tcp\n        name: port\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "opsbook.yaml", env={})
    assert {str(i) for i in caught.value.issues} == {
        "opsbook.yaml:4: services[0].checks[0].host: field required",
        "opsbook.yaml:4: services[0].checks[0].port: field required",
    }
