"""Mutated opsbook.yaml files (the example and the starter, a value or a line at a time) are either valid
or refused with FILE:LINE issues: never a traceback."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsbook.config.loader import parse_config
from opsbook.config.yamlpos import ConfigError

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [ROOT / "examples/opsbook.yaml", ROOT / "src/opsbook/config/starter.yaml"]
VALUE = re.compile(r"^(\s*(?:- )?[\w\-]+:\s*)(\S.*)$")
NASTY = [
    "0", "-1", "0s", "-5m", "99999999999999999d", "1.0e+400", ".nan", ".inf", "~", "''", "[]", "{}",
    "[[[[[]]]]]", "99999999999999999999999999", "-99999999999999999999", "true", "1-0 * * * *",
    "'* * * * * * *'", "\"\\u0000\"", "é€😀", "P9", "nonsense://", "'${UNSET_VAR}'", "&a [*a]",
    "!!python/none", "x" * 300,
]
ENV = {"DATABASE_URL": "postgresql://app:pw@127.0.0.1/app", "REDIS_PASSWORD": "pw", "OPSBOOK_PORT": "8080"}


@st.composite
def mutated(draw: st.DrawFn) -> str:
    source = draw(st.sampled_from(SOURCES))
    lines = source.read_text().splitlines()
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["value", "value", "value", "drop", "duplicate", "indent"]))
        match = VALUE.match(lines[at])
        if action == "value" and match:
            lines[at] = match.group(1) + draw(st.sampled_from(NASTY))
        elif action == "drop":
            del lines[at]
        elif action == "duplicate":
            lines.insert(at, lines[at])
        elif action == "indent":
            lines[at] = "  " + lines[at]
    return "\n".join(lines) + "\n"


@given(text=mutated())
@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
          database=None)
def test_a_mutated_file_is_valid_or_refused_with_file_line(text: str) -> None:
    try:
        parse_config(text, "opsbook.yaml", ENV)
    except ConfigError as exc:
        assert exc.issues
        for issue in exc.issues:
            assert re.match(r"^opsbook\.yaml:\d+: ", str(issue)), str(issue)
