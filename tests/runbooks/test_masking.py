"""Secrets written into commands are masked for people, literal values only; the session's pure parts:
what a step's dump carries, what is withheld as secret."""

from __future__ import annotations

import pytest

from opsbook.runbooks.masking import StreamMask, mask_command, written_secrets
from opsbook.runbooks.session import SessionState, advance, read_dump


@pytest.mark.parametrize(
    ("command", "shown"),
    [
        ("export DB_PASSWORD='hunter2'", "export DB_PASSWORD='***'"),
        ("PGPASSWORD=hunter2 psql -h db", "PGPASSWORD=*** psql -h db"),
        ("mysql -u root -phunter2 app", "mysql -u root -p*** app"),
        ("app --password hunter2 --user x", "app --password *** --user x"),
        ('app --api-key="k 1"', 'app --api-key="***"'),
        ('curl -H "Authorization: Bearer abcdefgh12345" x', 'curl -H "Authorization: Bearer ***" x'),
        ("psql postgresql://app:pw1234@db/app", "psql postgresql://app:***@db/app"),
        # not secrets, or not written out: unchanged
        ('DB_PASSWORD="$DB_PASSWORD" psql', 'DB_PASSWORD="$DB_PASSWORD" psql'),
        ("export API_KEY=$(vault read x)", "export API_KEY=$(vault read x)"),
        ("mkdir -pv /tmp/x && psql -p5432", "mkdir -pv /tmp/x && psql -p5432"),
        ("docker login --password-stdin reg.io", "docker login --password-stdin reg.io"),
        ("export REGION=eu-west-1", "export REGION=eu-west-1"),
    ],
)
def test_mask_command(command: str, shown: str) -> None:
    assert mask_command(command) == shown


def test_written_secrets_and_the_stream() -> None:
    assert written_secrets("export DB_PASSWORD='hunter2'; mysql -pswordfish") == {"hunter2", "swordfish"}
    out: list[str] = []
    stream = StreamMask(out.append, {"hunter2"})
    for chunk in ("pw=hun", "ter2\nnext ", "hunter2"):
        stream.feed(chunk)
    stream.flush()
    assert "".join(out) == "pw=***\nnext ***"


def test_advance_keeps_variables_and_withholds_secrets() -> None:
    before = {"PATH": "/bin", "OLD": "1", "TOKEN_X": "t"}
    dump = read_dump(b"/srv/app\n\0PATH=/bin\0FOO=bar\0DB_PASSWORD=hunter2\0SHLVL=2\0_=/bin/env\0")
    state, held = advance(SessionState(), before, dump, set())
    assert state.cwd == "/srv/app"
    assert state.variables == {"FOO": "bar"}
    assert held == {"DB_PASSWORD": "hunter2"} and state.withheld == ("DB_PASSWORD",)
    assert set(state.unset) == {"OLD", "TOKEN_X"}
    env = state.environment({"PATH": "/bin", "OLD": "1"}, {"DB_PASSWORD": "hunter2", "OTHER": "x"})
    assert env == {"PATH": "/bin", "FOO": "bar", "DB_PASSWORD": "hunter2"}
    assert SessionState.from_record(state.to_record()) == state
    assert advance(state, before, None, set()) == (state, {})  # a killed step leaves the session as it was
