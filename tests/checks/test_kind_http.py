"""The http check kind against a real aiohttp server on 127.0.0.1 (and a silent TCP server, and TLS)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from opsbook.checks.kinds.http import HttpCheck, parse_json_path
from opsbook.checks.kinds.probes.http import probe
from opsbook.checks.result import Status
from opsbook.checks.spec import RunContext
from opsbook.clock import FakeClock
from opsbook.config.loader import parse_config
from opsbook.config.yamlpos import ConfigError

pytestmark = pytest.mark.usefixtures("http_sessions")

HttpServer = Any  # tests/checks/conftest.py HttpServer (conftest modules cannot be imported)
Silent = Any


def check(url: str, **fields: Any) -> HttpCheck:
    return HttpCheck.model_validate({"kind": "http", "name": "probe", "url": url, **fields})


@pytest.fixture
def ctx(clock: FakeClock) -> RunContext:
    return RunContext(clock=clock)


async def test_ok(http_server: HttpServer, ctx: RunContext) -> None:
    result = await probe(check(f"{http_server.url}/ok", body_contains="all ok"), ctx)
    assert result.status is Status.UP, result.message
    assert result.message == "200 OK"
    assert result.values["status_code"] == 200
    assert result.values["body_bytes"] == len("all ok")
    assert result.latency_ms is not None and result.latency_ms >= result.values["ttfb_ms"] > 0


async def test_500_is_down_with_the_status(http_server: HttpServer, ctx: RunContext) -> None:
    result = await probe(check(f"{http_server.url}/status/500"), ctx)
    assert result.status is Status.DOWN
    assert result.message == "expected status 2xx, got 500 Internal Server Error"
    assert result.values["status_code"] == 500


@pytest.mark.parametrize(
    ("expected", "code", "up"),
    [
        ([200], 200, True),
        ([200], 204, False),
        (["2xx"], 299, True),
        (["4xx"], 404, True),
        (["200-204", 503], 503, True),
        (["200-204", 503], 205, False),
        (["5xx"], 200, False),
    ],
)
async def test_expected_status(
    http_server: HttpServer, ctx: RunContext, expected: list[Any], code: int, up: bool
) -> None:
    result = await probe(check(f"{http_server.url}/status/{code}", expected_status=expected), ctx)
    assert result.ok is up, result.message
    if not up:
        assert result.message.startswith(f"expected status {', '.join(str(e) for e in expected)}, got {code}")


async def test_body_contains_and_regex(http_server: HttpServer, ctx: RunContext) -> None:
    missing = await probe(check(f"{http_server.url}/ok", body_contains="healthy"), ctx)
    assert missing.status is Status.DOWN
    assert missing.message == "body does not contain 'healthy'"
    assert (await probe(check(f"{http_server.url}/ok", body_regex=r"^all\s+o"), ctx)).status is Status.UP
    nomatch = await probe(check(f"{http_server.url}/ok", body_regex=r"^ok$"), ctx)
    assert nomatch.message == "body does not match /^ok$/"


async def test_body_decoded_with_its_charset(http_server: HttpServer, ctx: RunContext) -> None:
    assert (await probe(check(f"{http_server.url}/latin", body_contains="café"), ctx)).status is Status.UP


async def test_json_path_equals(http_server: HttpServer, ctx: RunContext) -> None:
    url = f"{http_server.url}/json"
    good = {
        "status": "ok",
        "checks.cache.status": "ok",
        "checks.cache.up": True,
        "items[1].id": 2,
        "count": 1.0,
    }
    assert (await probe(check(url, json_equals=good), ctx)).status is Status.UP
    cases = {
        "checks.db.status": ("ok", 'JSON path checks.db.status is "down", expected "ok"'),
        "checks.db.up": (True, "JSON path checks.db.up is false, expected true"),
        "count": (True, "JSON path count is 1, expected true"),  # true is not 1
        "checks.queue.status": ("ok", "JSON path checks.queue.status not found: no key 'queue'"),
        "items[5].id": (
            1,
            "JSON path items[5].id not found: index [5] is out of range (the list has 2 items)",
        ),
        "status.code": (1, "JSON path status.code not found: key 'code' needs an object, found a string"),
    }
    for path, (want, message) in cases.items():
        result = await probe(check(url, json_equals={path: want}), ctx)
        assert (result.status, result.message) == (Status.DOWN, message)
    not_json = await probe(check(f"{http_server.url}/ok", json_equals={"status": "ok"}), ctx)
    assert not_json.status is Status.DOWN and not_json.message.startswith("body is not JSON")


def test_parse_json_path() -> None:
    assert parse_json_path("status") == ("status",)
    assert parse_json_path("checks.db.status") == ("checks", "db", "status")
    assert parse_json_path("items[0].id") == ("items", 0, "id")
    assert parse_json_path("$.a[1][-1]") == ("a", 1, -1)
    assert parse_json_path("[2].name") == (2, "name")
    for bad in ("", "a..b", "a[x]", "a[0]b", "a["):
        with pytest.raises(ValueError):
            parse_json_path(bad)


async def test_method_headers_and_json_body_are_sent(http_server: HttpServer, ctx: RunContext) -> None:
    spec = check(
        f"{http_server.url}/echo",
        method="post",
        headers={"Authorization": "Bearer s3cret-token", "X-Env": "test"},
        body={"ping": 1},
        json_equals={"method": "POST", "body": '{"ping": 1}'},
    )
    result = await probe(spec, ctx)
    assert result.status is Status.UP, result.message
    seen = http_server.requests[-1]
    headers = seen["headers"]
    assert isinstance(headers, dict)
    assert headers["Authorization"] == "Bearer s3cret-token"
    assert headers["X-Env"] == "test"
    assert headers["Content-Type"] == "application/json"
    text = await probe(check(f"{http_server.url}/echo", method="PUT", body="plain text"), ctx)
    assert text.status is Status.UP
    assert http_server.requests[-1]["body"] == "plain text"
    assert http_server.requests[-1]["method"] == "PUT"


async def test_slow_response_times_out_with_the_phase(http_server: HttpServer, ctx: RunContext) -> None:
    result = await probe(check(f"{http_server.url}/slow", timeout="200ms"), ctx)
    assert result.status is Status.DOWN
    assert result.message == "timed out after 200ms waiting for the response"


async def test_slow_body_times_out_while_reading(http_server: HttpServer, ctx: RunContext) -> None:
    result = await probe(check(f"{http_server.url}/slow-body", timeout="200ms"), ctx)
    assert result.status is Status.DOWN
    assert result.message == "timed out after 200ms while reading the body (status 200, 4 bytes read)"


async def test_server_that_never_answers(silent_server: Silent, ctx: RunContext) -> None:
    result = await probe(check(f"http://127.0.0.1:{silent_server.port}/", timeout="200ms"), ctx)
    assert silent_server.accepted == 1
    assert result.status is Status.DOWN
    assert result.message == "timed out after 200ms waiting for the response"


async def test_connection_refused(closed_port: int, ctx: RunContext) -> None:
    result = await probe(check(f"http://127.0.0.1:{closed_port}/"), ctx)
    assert (result.status, result.message) == (Status.DOWN, "connection refused")


async def test_unresolvable_host(ctx: RunContext) -> None:
    result = await probe(check("http://no-such-host.invalid/", timeout="5s"), ctx)
    assert result.status is Status.DOWN
    assert result.message.startswith("cannot resolve host 'no-such-host.invalid'")


async def test_big_body_is_read_only_up_to_the_cap(http_server: HttpServer, ctx: RunContext) -> None:
    cap = 64 * 1024
    result = await probe(check(f"{http_server.url}/big", max_body_bytes="64KiB", body_contains="y"), ctx)
    assert result.values["body_bytes"] == cap
    assert result.status is Status.DOWN
    assert result.message == "body does not contain 'y' (only the first 64 KiB was read)"
    # the connection was dropped: the server stopped writing long before 50 MB (socket buffers hold a few MB)
    await asyncio.wait_for(http_server.big_done.wait(), 10)
    assert http_server.big_written < http_server.big_size // 4

    found = await probe(check(f"{http_server.url}/big", max_body_bytes=1000, body_contains="xxx"), ctx)
    assert found.status is Status.UP
    assert found.values["body_bytes"] == 1000
    assert found.message == "200 OK; body checks saw only the first 1000 bytes"


async def test_default_cap_is_one_mebibyte(http_server: HttpServer, ctx: RunContext) -> None:
    result = await probe(check(f"{http_server.url}/big"), ctx)
    assert result.status is Status.UP
    assert result.values["body_bytes"] == 1024 * 1024
    assert result.message.endswith("body checks saw only the first 1 MiB")


async def test_body_exactly_at_the_cap_is_complete(http_server: HttpServer, ctx: RunContext) -> None:
    result = await probe(check(f"{http_server.url}/ok", max_body_bytes=6), ctx)
    assert (result.message, result.values["body_bytes"]) == ("200 OK", 6)


async def test_redirects(http_server: HttpServer, ctx: RunContext) -> None:
    followed = await probe(check(f"{http_server.url}/redirect/2", body_contains="all ok"), ctx)
    assert followed.status is Status.UP
    assert followed.message == "200 OK after 3 redirects"
    assert followed.values["redirects"] == 3

    too_many = await probe(check(f"{http_server.url}/redirect/4", max_redirects=2), ctx)
    assert (too_many.status, too_many.message) == (Status.DOWN, "too many redirects (more than 2)")

    not_followed = await probe(check(f"{http_server.url}/redirect/0", follow_redirects=False), ctx)
    assert (not_followed.status, not_followed.message) == (Status.DOWN, "expected status 2xx, got 302 Found")
    wanted = await probe(
        check(f"{http_server.url}/redirect/0", follow_redirects=False, expected_status=[302]), ctx
    )
    assert wanted.status is Status.UP


async def test_max_latency_degrades(http_server: HttpServer, ctx: RunContext) -> None:
    slow = await probe(
        check(f"{http_server.url}/ok", max_latency="0.001ms"), ctx
    )  # any real request is slower
    assert slow.status is Status.DEGRADED
    assert slow.message.startswith("slow: ") and "more than the maximum 0ms (200 OK)" in slow.message
    assert slow.ok
    fast = await probe(check(f"{http_server.url}/ok", max_latency="1m"), ctx)
    assert fast.status is Status.UP
    failing = await probe(check(f"{http_server.url}/status/500", max_latency="0.001ms"), ctx)
    assert failing.status is Status.DOWN  # a wrong answer is down, however slow


async def test_fresh_connection_per_run_unless_keepalive(http_server: HttpServer, ctx: RunContext) -> None:
    fresh = check(f"{http_server.url}/peer")
    for _ in range(3):
        assert (await probe(fresh, ctx)).status is Status.UP
    assert len(set(http_server.peers)) == 3
    http_server.peers.clear()
    kept = check(f"{http_server.url}/peer", keepalive=True)
    for _ in range(3):
        assert (await probe(kept, ctx)).status is Status.UP
    assert len(set(http_server.peers)) == 1


async def test_no_cookies_leak_between_runs(http_server: HttpServer, ctx: RunContext) -> None:
    await probe(check(f"{http_server.url}/echo"), ctx)
    await probe(check(f"{http_server.url}/echo"), ctx)
    for seen in http_server.requests:
        assert isinstance(seen["headers"], dict) and "Cookie" not in seen["headers"]


async def test_tls_verification(https_server: HttpServer, ca_file: str, ctx: RunContext) -> None:
    url = f"{https_server.url}/ok"
    untrusted = await probe(check(url), ctx)
    assert untrusted.status is Status.DOWN
    assert untrusted.message.startswith("TLS certificate verify failed: ")
    assert "issuer" in untrusted.message
    assert (await probe(check(url, ca_file=ca_file), ctx)).status is Status.UP
    assert (await probe(check(url, verify_tls=False), ctx)).status is Status.UP
    wrong_name = await probe(check(url.replace("localhost", "127.0.0.1"), ca_file=ca_file), ctx)
    assert wrong_name.status is Status.DOWN
    assert "TLS certificate verify failed" in wrong_name.message
    assert "127.0.0.1" in wrong_name.message


async def test_missing_ca_file(http_server: HttpServer, ctx: RunContext, tmp_path: Any) -> None:
    missing = str(tmp_path / "nope.pem")
    result = await probe(check(f"{http_server.url}/ok", ca_file=missing), ctx)
    assert (result.status, result.message) == (
        Status.DOWN,
        f"cannot load ca_file {missing!r}: No such file or directory",
    )


async def test_credentials_in_the_url_are_sent_as_basic_auth(
    http_server: HttpServer, ctx: RunContext
) -> None:
    url = http_server.url.replace("http://", "http://bot:pa55word@") + "/echo"
    spec = check(url)
    assert (await probe(spec, ctx)).status is Status.UP
    headers = http_server.requests[-1]["headers"]
    assert headers["Authorization"] == "Basic Ym90OnBhNTV3b3Jk"  # bot:pa55word
    assert spec.secrets() == ["pa55word"]
    assert "pa55word" not in spec.target()


def test_secrets_in_a_json_body() -> None:
    spec = check(
        "http://api.test/login",
        body={"user": "bot", "auth": {"password": "pw-4242"}, "list": [{"api_key": "k-1234"}]},
    )
    assert sorted(spec.secrets()) == ["k-1234", "pw-4242"]


def test_secrets_and_target() -> None:
    spec = check(
        "https://admin:hunter22@api.test/health?token=tok-9876&x=1",
        headers={"Authorization": "Bearer abcd-1234", "X-Api-Key": "key-5678", "Accept": "text/plain"},
    )
    secrets = spec.secrets()
    for secret in ("hunter22", "tok-9876", "abcd-1234", "key-5678"):
        assert secret in secrets
    assert "text/plain" not in secrets
    assert spec.target() == "GET https://admin:***@api.test/health?token=***&x=1"


def test_schema_documents_the_fields() -> None:
    props = HttpCheck.model_json_schema()["properties"]
    for name in ("url", "expected_status", "json_equals", "max_latency", "max_body_bytes", "keepalive"):
        assert props[name]["description"], name


CONFIG = """\
services:
  - name: api
    checks:
      - kind: http
        name: health
        url: {url}
        expected_status: {status}
        json_equals: {paths}
        max_body_bytes: {size}
        body_regex: {regex}
"""

GOOD = {
    "url": "http://127.0.0.1/h",
    "status": "[200]",
    "paths": "{status: ok}",
    "size": "1MiB",
    "regex": "ok",
}


def test_valid_config_is_parsed() -> None:
    loaded = parse_config(CONFIG.format(**GOOD), "opsbook.yaml", env={})
    spec = loaded.config.checks()["api/health"]
    assert isinstance(spec, HttpCheck)
    assert spec.max_body_bytes == 1024 * 1024
    assert spec.expected_status == ["200"]


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        (
            "status",
            '[200, "2xy"]',
            "opsbook.yaml:7: services[0].checks[0].expected_status[1]: '2xy' is not a status",
        ),
        (
            "status",
            '["300-200"]',
            "opsbook.yaml:7: services[0].checks[0].expected_status[0]: '300-200' is an empty",
        ),
        (
            "status",
            "[]",
            "opsbook.yaml:7: services[0].checks[0].expected_status: List should have at least 1",
        ),
        (
            "url",
            "ftp://x.test/",
            "opsbook.yaml:6: services[0].checks[0].url: 'ftp://x.test/' is not an http://",
        ),
        (
            "paths",
            "{'a..b': 1}",
            "opsbook.yaml:8: services[0].checks[0].json_equals: 'a..b' is not a JSON path",
        ),
        ("size", "lots", "opsbook.yaml:9: services[0].checks[0].max_body_bytes: 'lots' is not a size"),
        (
            "regex",
            "'('",
            "opsbook.yaml:10: services[0].checks[0].body_regex: '(' is not a regular expression",
        ),
    ],
)
def test_config_errors_name_file_line_and_field(field: str, value: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(CONFIG.format(**{**GOOD, field: value}), "opsbook.yaml", env={})
    assert str(caught.value).startswith(expected), str(caught.value)
