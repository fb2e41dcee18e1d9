"""The `http` check kind: one request, judged on status, body and latency.

This module is what opsbook.yaml accepts (and, given a response, whether it is as expected); the probe
that sends the request is `probes/http.py`.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, PrivateAttr, WithJsonSchema, field_validator
from yarl import URL

from opsbook.checks.spec import CheckSpec
from opsbook.config.types import PositiveDuration
from opsbook.redact import redact

DEFAULT_MAX_BODY = 1024 * 1024

# ---- config value types -------------------------------------------------------------------------------

_STATUS = re.compile(r"^(?:([1-5])xx|([1-5]\d\d)(?:-([1-5]\d\d))?)$", re.IGNORECASE)
_STATUS_HELP = "use a code (200), a class ('2xx') or a range ('200-299')"


def _status_spec(value: Any) -> str:
    """200, '200', '2xx', '200-299' -> the canonical text; anything else is a config error."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a status: {_STATUS_HELP}")
    text = str(value).strip()
    match = _STATUS.match(text)
    if not match:
        raise ValueError(f"{value!r} is not a status: {_STATUS_HELP}")
    if match[3] and int(match[3]) < int(match[2]):
        raise ValueError(f"{value!r} is an empty range: the first code must not be above the second")
    return text.lower()


def _status_range(spec: str) -> tuple[int, int]:
    match = _STATUS.match(spec)
    assert match is not None
    if match[1]:
        return int(match[1]) * 100, int(match[1]) * 100 + 99
    return int(match[2]), int(match[3] or match[2])


StatusSpec = Annotated[
    str,
    BeforeValidator(_status_spec),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 100, "maximum": 599},
                {"type": "string", "pattern": _STATUS.pattern},
            ]
        }
    ),
]

_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?$", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "kb": 1000, "kib": 1024, "mb": 1000**2, "mib": 1024**2, "gb": 1000**3, "gib": 1024**3}


def _size(value: Any) -> int:
    """A byte count: 65536, '64KiB', '1MiB', '2MB'."""
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    else:
        match = _SIZE.match(str(value).strip())
        if isinstance(value, bool) or not match:
            raise ValueError(f"{value!r} is not a size: use a number of bytes or e.g. '64KiB', '1MiB'")
        size = int(float(match[1]) * _SIZE_UNITS[(match[2] or "b").lower()])
    if size < 1:
        raise ValueError("the size must be at least 1 byte")
    return size


ByteSize = Annotated[
    int,
    BeforeValidator(_size),
    WithJsonSchema({"type": ["integer", "string"], "examples": [65536, "64KiB", "1MiB"]}),
]

# a dotted path into a JSON document: status, checks.db.status, items[0].id, [2].name, $.a.b
_PATH_TOKEN = re.compile(r"\.?([^.\[\]]+)|\[(-?\d+)\]")
JsonPath = tuple[str | int, ...]


def parse_json_path(text: str) -> JsonPath:
    """'checks.db.status' -> ('checks', 'db', 'status'); 'items[0].id' -> ('items', 0, 'id')."""
    source = text.strip()
    source = source.removeprefix("$")
    parts: list[str | int] = []
    pos = 0
    while pos < len(source):
        match = _PATH_TOKEN.match(source, pos)
        if not match or (match[1] is not None and pos > 0 and source[pos] != "."):
            raise ValueError(
                f"{text!r} is not a JSON path: use keys joined by dots and [N] for list items, "
                "e.g. 'checks.db.status' or 'items[0].id'"
            )
        parts.append(match[1] if match[1] is not None else int(match[2]))
        pos = match.end()
    if not parts:
        raise ValueError("an empty JSON path: name a key, e.g. 'status'")
    return tuple(parts)


_MISSING = object()


def _lookup(document: Any, path: JsonPath) -> tuple[Any, str]:
    """The value at `path`, or (_MISSING, why)."""
    node = document
    for part in path:
        if isinstance(part, int):
            if not isinstance(node, list):
                return _MISSING, f"[{part}] needs a list, found {_kind(node)}"
            if not -len(node) <= part < len(node):
                return _MISSING, f"index [{part}] is out of range (the list has {len(node)} items)"
            node = node[part]
        else:
            if not isinstance(node, dict):
                return _MISSING, f"key {part!r} needs an object, found {_kind(node)}"
            if part not in node:
                return _MISSING, f"no key {part!r}"
            node = node[part]
    return node, ""


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def _same(actual: Any, expected: Any) -> bool:
    """JSON equality where true is not 1 and 1 is 1.0."""
    if isinstance(actual, bool) or isinstance(expected, bool):
        return isinstance(actual, bool) and isinstance(expected, bool) and actual == expected
    return bool(actual == expected)


def _show(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def format_size(size: int) -> str:
    """1048576 -> '1 MiB'; sizes that are not whole KiB/MiB/GiB in bytes."""
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} bytes"


_SECRET_HEADER = re.compile(r"auth|token|key|secret|cookie|passw|pwd|credential|session|signature", re.I)


def _secret_values(document: Any) -> list[str]:
    """String values under secret-looking keys anywhere in a JSON body ({"password": ...})."""
    if isinstance(document, dict):
        found = []
        for key, value in document.items():
            if isinstance(value, str) and _SECRET_HEADER.search(str(key)):
                found.append(value)
            else:
                found.extend(_secret_values(value))
        return found
    if isinstance(document, list):
        return [secret for item in document for secret in _secret_values(item)]
    return []


# ---- the check ---------------------------------------------------------------------------------------------


class HttpCheck(CheckSpec):
    """Sends one HTTP request; up when the status, body and latency are as expected."""

    kind: Literal["http"]
    url: str = Field(description="http:// or https:// URL to request. A password in it is kept secret.")
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = Field(
        default="GET", description="HTTP method."
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Request headers; values of Authorization, *token*, *key*… are secrets.",
    )
    body: str | dict[str, Any] | list[Any] | None = Field(
        default=None, description="Request body: a string is sent as is, a mapping or list as JSON."
    )
    expected_status: list[StatusSpec] = Field(
        default_factory=lambda: ["2xx"],
        min_length=1,
        description="Status codes that count as up: codes (200), classes ('2xx') or ranges ('200-399').",
    )
    body_contains: str | None = Field(default=None, description="Text the response body must contain.")
    body_regex: str | None = Field(
        default=None, description="Regular expression the response body must match."
    )
    json_equals: dict[str, Any] = Field(
        default_factory=dict,
        description="JSON paths and the value each must equal, e.g. {status: ok, 'checks.db.up': true, "
        "'items[0].id': 1}.",
    )
    max_latency: PositiveDuration | None = Field(
        default=None, description="Slower than this (but otherwise fine) makes the result degraded."
    )
    verify_tls: bool = Field(default=True, description="Verify the server's certificate and host name.")
    ca_file: str | None = Field(
        default=None, description="PEM file of the CA(s) to trust instead of the system store (private CAs)."
    )
    follow_redirects: bool = Field(default=True, description="Follow 3xx redirects.")
    max_redirects: int = Field(default=10, ge=0, description="More redirects than this is a failure.")
    max_body_bytes: ByteSize = Field(
        default=DEFAULT_MAX_BODY,
        description="Read at most this much of the body (e.g. '64KiB', '1MiB'); body checks see only that.",
    )
    keepalive: bool = Field(
        default=False,
        description="Reuse connections between runs; by default each run opens a fresh connection.",
    )

    _url: URL = PrivateAttr()
    _ranges: tuple[tuple[int, int], ...] = PrivateAttr()
    _regex: re.Pattern[str] | None = PrivateAttr(default=None)
    _paths: tuple[tuple[str, JsonPath, Any], ...] = PrivateAttr(default=())
    _request_args: dict[str, Any] = PrivateAttr(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        try:
            url = URL(value)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{value!r} is not a URL: {exc}") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"{value!r} is not an http:// or https:// URL with a host")
        return value

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("body_regex")
    @classmethod
    def _check_regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"{value!r} is not a regular expression: {exc}") from None
        return value

    @field_validator("json_equals")
    @classmethod
    def _check_paths(cls, value: dict[str, Any]) -> dict[str, Any]:
        for path in value:
            parse_json_path(path)
        return value

    def model_post_init(self, context: Any) -> None:
        """Prepare once what every run needs, so a run does no parsing."""
        self._url = URL(self.url)
        self._ranges = tuple(_status_range(spec) for spec in self.expected_status)
        self._regex = re.compile(self.body_regex) if self.body_regex is not None else None
        self._paths = tuple((path, parse_json_path(path), want) for path, want in self.json_equals.items())
        args: dict[str, Any] = {"allow_redirects": self.follow_redirects, "max_redirects": self.max_redirects}
        if self.headers:
            args["headers"] = dict(self.headers)
        if isinstance(self.body, str):
            args["data"] = self.body.encode()
        elif self.body is not None:
            args["json"] = self.body
        self._request_args = args

    def secrets(self) -> list[str]:
        found = [value for name, value in self.headers.items() if _SECRET_HEADER.search(name)]
        for name, value in self.headers.items():
            if name.lower() in ("authorization", "proxy-authorization") and " " in value:
                found.append(value.split(" ", 1)[1])  # the credential alone, e.g. the token after "Bearer "
        if self._url.password:
            found.append(self._url.password)
        found.extend(value for key, value in self._url.query.items() if _SECRET_HEADER.search(key))
        found.extend(_secret_values(self.body))
        return found

    def target(self) -> str:
        return redact(f"{self.method} {self._url}", self.secrets())

    @property
    def request_url(self) -> URL:
        """The URL, parsed once."""
        return self._url

    @property
    def request_options(self) -> dict[str, Any]:
        """Keyword arguments of the request: redirects, headers, body (prepared once)."""
        return self._request_args

    def _status_ok(self, code: int) -> bool:
        return any(low <= code <= high for low, high in self._ranges)

    def judge(self, status: int, reason: str, body: bytes, complete: bool, charset: str) -> str:
        """Why the response is not as expected, or '' when it is."""
        if not self._status_ok(status):
            wanted = ", ".join(self.expected_status)
            return f"expected status {wanted}, got {status} {reason}".rstrip()
        if self.body_contains is None and self._regex is None and not self._paths:
            return ""
        note = "" if complete else f" (only the first {format_size(self.max_body_bytes)} was read)"
        try:
            text = body.decode(charset, errors="replace")
        except LookupError:
            text = body.decode("utf-8", errors="replace")
        if self.body_contains is not None and self.body_contains not in text:
            return f"body does not contain {self.body_contains!r}{note}"
        if self._regex is not None and not self._regex.search(text):
            return f"body does not match /{self._regex.pattern}/{note}"
        if self._paths:
            try:
                document = json.loads(text)
            except ValueError as exc:
                return f"body is not JSON: {exc}{note}"
            for path, parts, want in self._paths:
                actual, why = _lookup(document, parts)
                if actual is _MISSING:
                    return f"JSON path {path} not found: {why}"
                if not _same(actual, want):
                    return f"JSON path {path} is {_show(actual)}, expected {_show(want)}"
        return ""
