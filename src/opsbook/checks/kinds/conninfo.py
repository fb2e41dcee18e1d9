"""libpq connection strings (`postgresql://…` URLs and `key=value` pairs) read in pure Python.

The `postgres` kind needs the parts of its DSN when the config is loaded (to refuse a malformed one, to
know its password and to display it) but should not load libpq for that: every command reads the config,
and psycopg takes longer to import than most commands take to run. `parse_conninfo` follows libpq's own
parser (fe-connect.c: `conninfo_parse`, `conninfo_uri_parse_options`, `conninfo_uri_decode`); tests
compare it with `psycopg.conninfo.conninfo_to_dict` (and its keyword list with the libpq psycopg ships).
"""

from __future__ import annotations

import re

KEYWORDS = frozenset(
    [
        "application_name",
        "channel_binding",
        "client_encoding",
        "connect_timeout",
        "dbname",
        "fallback_application_name",
        "gssdelegation",
        "gssencmode",
        "gsslib",
        "host",
        "hostaddr",
        "keepalives",
        "keepalives_count",
        "keepalives_idle",
        "keepalives_interval",
        "krbsrvname",
        "load_balance_hosts",
        "max_protocol_version",
        "min_protocol_version",
        "oauth_client_id",
        "oauth_client_secret",
        "oauth_issuer",
        "oauth_scope",
        "options",
        "passfile",
        "password",
        "port",
        "replication",
        "require_auth",
        "requirepeer",
        "scram_client_key",
        "scram_server_key",
        "service",
        "ssl_max_protocol_version",
        "ssl_min_protocol_version",
        "sslcert",
        "sslcertmode",
        "sslcompression",
        "sslcrl",
        "sslcrldir",
        "sslkey",
        "sslkeylogfile",
        "sslmode",
        "sslnegotiation",
        "sslpassword",
        "sslrootcert",
        "sslsni",
        "target_session_attrs",
        "tcp_user_timeout",
        "user",
    ]
)
"""The connection options of libpq 18 (the one psycopg[binary] ships)."""

_URI_PREFIXES = ("postgresql://", "postgres://")
_SPACE = " \t\n\v\f\r"  # C's isspace(), which libpq uses
_PERCENT = re.compile(rb"%(..)?", re.DOTALL)
_HEX = frozenset(b"0123456789abcdefABCDEF")


def parse_conninfo(dsn: str) -> dict[str, str]:
    """The options a connection string sets, as libpq reads them; ValueError saying why it cannot.

    The reason quotes nothing from the string: in a malformed one, any piece may be a password."""
    if dsn.startswith(_URI_PREFIXES):
        return _parse_uri(dsn)
    return _parse_pairs(dsn)


def _store(options: dict[str, str], keyword: str, value: str) -> None:
    if keyword == "requiressl":  # libpq's legacy spelling of sslmode
        keyword, value = "sslmode", "require" if value.startswith("1") else "prefer"
    if keyword not in KEYWORDS:
        raise ValueError("an unknown option name")
    options[keyword] = value


def _parse_pairs(text: str) -> dict[str, str]:
    options: dict[str, str] = {}
    pos, end = 0, len(text)
    while True:
        pos = _skip_space(text, pos)
        if pos == end:
            return options
        start = pos
        while pos < end and text[pos] != "=" and text[pos] not in _SPACE:
            pos += 1
        keyword = text[start:pos]
        pos = _skip_space(text, pos)
        if pos == end or text[pos] != "=":
            raise ValueError("an option name without '='")
        value, pos = _value(text, _skip_space(text, pos + 1))
        _store(options, keyword, value)


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _SPACE:
        pos += 1
    return pos


def _value(text: str, pos: int) -> tuple[str, int]:
    """A value from `pos`, quoted ('…') or not, with backslash escapes; and where the next pair starts."""
    out: list[str] = []
    end = len(text)
    quoted = pos < end and text[pos] == "'"
    pos += quoted
    while True:
        if pos >= end:
            if quoted:
                raise ValueError("a quoted value is not closed")
            return "".join(out), end
        char = text[pos]
        if char == "\\":
            out.append(text[pos + 1 : pos + 2])
            pos += 2
        elif (quoted and char == "'") or (not quoted and char in _SPACE):
            return "".join(out), pos + 1
        else:
            out.append(char)
            pos += 1


def _parse_uri(uri: str) -> dict[str, str]:
    options: dict[str, str] = {}
    rest = uri.split("://", 1)[1]
    authority_end = len(rest)
    for stop in "/@":
        found = rest.find(stop)
        if found != -1:
            authority_end = min(authority_end, found)
    if authority_end < len(rest) and rest[authority_end] == "@":
        userinfo, rest = rest[:authority_end], rest[authority_end + 1 :]
        user, colon, password = userinfo.partition(":")
        if user:
            _store(options, "user", _decode(user))
        if colon and password:
            _store(options, "password", _decode(password))
    hosts, ports, rest, terminator = _netlocs(rest)
    if hosts:
        _store(options, "host", _decode(hosts))
    if ports:
        _store(options, "port", _decode(ports))
    if terminator == "/":
        dbname, question, rest = rest.partition("?")
        if dbname:
            _store(options, "dbname", _decode(dbname))
        terminator = question
    if terminator == "?":
        _parse_params(rest, options)
    return options


def _netlocs(rest: str) -> tuple[str, str, str, str]:
    """`host[:port],…` up to '/' or '?': the hosts and ports joined by commas as libpq keeps them, the
    text after the terminator, and the terminator ('' at the end)."""
    hosts: list[str] = []
    ports: list[str] = []
    pos = 0
    while True:
        if rest.startswith("[", pos):
            close = rest.find("]", pos)
            if close == -1:
                raise ValueError("an IPv6 address in the URL is missing its ']'")
            if close == pos + 1:
                raise ValueError("an empty IPv6 address in the URL")
            host = rest[pos + 1 : close]
            pos = close + 1
            if pos < len(rest) and rest[pos] not in ":/?,":
                raise ValueError("unexpected text after an IPv6 address in the URL")
        else:
            start = pos
            while pos < len(rest) and rest[pos] not in ":/?,":
                pos += 1
            host = rest[start:pos]
        port = ""
        if rest.startswith(":", pos):
            start = pos = pos + 1
            while pos < len(rest) and rest[pos] not in "/?,":
                pos += 1
            port = rest[start:pos]
        hosts.append(host)
        ports.append(port)
        terminator = rest[pos : pos + 1]
        pos += 1
        if terminator != ",":
            return ",".join(hosts), ",".join(ports), rest[pos:], terminator


def _parse_params(query: str, options: dict[str, str]) -> None:
    pos = 0
    while pos < len(query):  # a trailing '&' ends the list, as in libpq
        amp = query.find("&", pos)
        end = len(query) if amp == -1 else amp
        param, pos = query[pos:end], end + 1
        if param.count("=") != 1:
            raise ValueError("a URL query parameter is not one key=value")
        keyword, value = (_decode(part) for part in param.split("="))
        if keyword == "ssl" and value == "true":  # JDBC's spelling
            keyword, value = "sslmode", "require"
        _store(options, keyword, value)


def _decode(text: str) -> str:
    """Percent-decoding as libpq does it: spaces around the text are dropped and inside it refused, every
    % starts two hex digits, and %00 is refused; the result must be UTF-8 (as psycopg requires)."""

    def byte(match: re.Match[bytes]) -> bytes:
        digits = match[1] or b""
        if len(digits) != 2 or not _HEX.issuperset(digits):
            raise ValueError("invalid percent-encoding in the URL")
        if digits == b"00":
            raise ValueError("%00 is not allowed in the URL")
        return bytes([int(digits, 16)])

    core = text.strip(" ")
    if " " in core:
        raise ValueError("a space in the URL (write it as %20)")
    try:
        return _PERCENT.sub(byte, core.encode()).decode()
    except UnicodeDecodeError:
        raise ValueError("the URL decodes to text that is not UTF-8") from None
