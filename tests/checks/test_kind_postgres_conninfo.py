"""The postgres kind reads its DSN without libpq: `parse_conninfo` must agree with libpq on every string."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg import pq
from psycopg.conninfo import conninfo_to_dict

from opsbook.checks.kinds.conninfo import KEYWORDS, parse_conninfo


def libpq(dsn: str) -> dict[str, str] | None:
    try:
        return {key: str(value) for key, value in conninfo_to_dict(dsn).items()}
    except Exception:  # psycopg.ProgrammingError, or UnicodeDecodeError for bytes that are not UTF-8
        return None


def ours(dsn: str) -> dict[str, str] | None:
    try:
        return parse_conninfo(dsn)
    except ValueError:
        return None


def test_the_keywords_are_those_of_the_libpq_psycopg_ships() -> None:
    assert {option.keyword.decode() for option in pq.Conninfo.get_defaults()} == KEYWORDS


CASES = [
    "postgresql://app:pw@db.internal:6543/main",
    "postgresql+psycopg://app:pw@db/main",
    "postgresql://a:b@h1:1,h2/db?sslmode=require",
    "postgresql://h1,h2:5/db",
    "postgresql://h1:1,[::1]:2,h3/db",
    "postgresql://[::1]:5432/db",
    "postgresql://[::1]x/db",
    "postgresql://[/db",
    "postgresql://[]/db",
    "postgresql://",
    "postgres://u@",
    "postgresql:///db?host=/tmp",
    "postgresql://u:p%40@h/?ssl=true",
    "postgresql://us%65r:p%2Fw@h:5433/d?application_name=x%20y",
    "postgresql://u:p/x@h/db",
    "postgresql://u:@h",
    "postgresql://:p@h",
    "postgresql://h:/d",
    "postgresql://h?dbname=x",
    "postgresql://h/db?a=1",
    "postgresql://h/db?host=x&",
    "postgresql://h/db?host=x&&port=1",
    "postgresql://h/db?host",
    "postgresql://h/db?host=a=b",
    "postgresql://h/db?requiressl=1",
    "postgresql://h/%zz",
    "postgresql://h/%00",
    "postgresql://h/%4",
    "postgresql://h/%ff",
    "postgresql://h/caf%C3%A9",
    "postgresql://port ",
    "postgresql://u:pass word@h/db",
    "host=x port = 5 password='a\\'b'",
    "host=db password=Very-Secret-1 this is not valid",
    "requiressl=1",
    "requiressl=0",
    "host='x y' port=5",
    "host='unterminated",
    "host=a\\ b",
    "host=x\\",
    "host='a\\",
    "host='ab'c port=1",
    "host=a'b",
    "host= port=5",
    "host=",
    "=x",
    "a",
    "",
    "   ",
    "host=x password=p=q",
    "dbname=a user=b ",
    "host=a\thost=b",
    "host=café",
    "hots=x",
    "ssl=true",
]


@pytest.mark.parametrize("dsn", CASES)
def test_agrees_with_libpq(dsn: str) -> None:
    assert ours(dsn) == libpq(dsn)


PIECES = [
    "host", "port", "user", "password", "dbname", "sslmode", "ssl", "requiressl", "=", " ", "'", "\\",
    "a", "1", "%", "%4", "%41", "%00", "%20", "%ff", "%C3%A9", "@", ":", "/", "?", "&", ",", "[", "]",
    "::1", "\t", "\n", "é", "true", "x y",
]  # fmt: skip


@settings(max_examples=3000, deadline=None)
@given(
    st.sampled_from(["", "postgresql://", "postgres://"]),
    st.lists(st.sampled_from(PIECES), max_size=12).map("".join),
)
def test_agrees_with_libpq_on_any_string(prefix: str, rest: str) -> None:
    assert ours(prefix + rest) == libpq(prefix + rest)


@pytest.mark.parametrize(
    "dsn",
    [
        "host=db Very-Secret-1",
        "host=db password=Very Secret-1=x",
        "postgresql://u:Very Secret-1@h/db",
        "postgresql://u:Very-Secret-1%zz@h/db",
        "host=db password='Very-Secret-1",
    ],
)
def test_a_refusal_quotes_nothing_of_the_string(dsn: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_conninfo(dsn)
    assert "Secret" not in str(info.value)


def test_reading_the_config_does_not_load_libpq() -> None:
    code = (
        "import sys; from opsbook.config.schema import OpsbookConfig; "
        "print(sorted(m for m in ('psycopg', 'aiohttp', 'redis', 'psutil') if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"
