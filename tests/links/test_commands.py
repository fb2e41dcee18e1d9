"""A suggested command line reads back, through a POSIX shell's word splitting, as exactly the words meant,
whatever the procedure is called (quotes, dollars, backticks, exclamation marks, unicode); it starts as the
config's `server.cli` says a responder runs opsbook, and names a config that is not ./opsbook.yaml with -c."""

from __future__ import annotations

import os
import shlex
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opsbook.config.loader import parse_config
from opsbook.config.yamlpos import ConfigError
from opsbook.notify.templates import render
from opsbook.runbooks.commands import ack_command, opsbook_command, run_command, shell_word
from opsbook.secrets.age import SecretState

NAMES = st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=40).filter(str.strip)


@given(NAMES, st.one_of(st.none(), st.integers(min_value=1, max_value=10**9)))
def test_a_run_command_splits_back_into_its_words(name: str, incident: int | None) -> None:
    words = shlex.split(run_command(None, name, incident))
    assert words[:4] == ["opsbook", "runbook", "run", name.strip()]
    assert words[4:] == ([] if incident is None else ["--incident", str(incident)])


def test_readable_quoting_where_it_is_safe_and_a_real_shell_agrees() -> None:
    line = run_command(None, "API Not Responding", 12)
    assert line == 'opsbook runbook run "API Not Responding" --incident 12'
    assert shell_word("restart") == "restart"
    tricky = ['Rotate the "JWT" secret', "Cost: $5 `now`!", "it's down", "Base de données › Lente"]
    for name in tricky:
        echoed = subprocess.run(["bash", "-c", f"printf '%s' {shell_word(name)}"], capture_output=True,
                                text=True, check=True)
        assert echoed.stdout == name


def test_templates_quote_with_the_shell_filter() -> None:
    body = render("secret", {"secret": "jwt", "rotation": 'Rotate the "JWT" secret', "every": "90 d"}).body
    assert "Rotate it with: opsbook runbook run 'Rotate the \"JWT\" secret'" in body


def test_a_config_found_by_default_gives_bare_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for path in ("opsbook.yaml", "./opsbook.yaml", str(tmp_path / "opsbook.yaml")):
        server = parse_config("title: t\n", path, {}).config.server
        assert ack_command(server, 12) == "opsbook incident ack 12", path


def test_a_config_elsewhere_is_named_by_its_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "team one").mkdir()
    monkeypatch.chdir(tmp_path)
    server = parse_config("title: t\n", "team one/opsbook.yaml", {}).config.server  # as `serve -c` gets it
    where = str(tmp_path / "team one" / "opsbook.yaml")
    assert os.path.isabs(where) and server.config_file == where
    words = shlex.split(run_command(server, "API Not Responding", 3))
    assert words == ["opsbook", "runbook", "run", "API Not Responding", "--incident", "3", "-c", where]
    assert shlex.split(ack_command(server, 3))[-2:] == ["-c", where]
    prod = str(tmp_path / "prod.yaml")  # in the working directory, but not the file a command looks for
    other = parse_config("title: t\n", prod, {}).config.server
    assert shlex.split(ack_command(other, 3))[-2:] == ["-c", prod]


def test_the_config_says_how_a_responder_runs_opsbook(tmp_path: Path) -> None:
    how = "ssh -t ops.example.com OPSBOOK_CONFIG=/etc/opsbook/opsbook.yaml opsbook"
    server = parse_config(f"server:\n  cli: {how}\n", str(tmp_path / "elsewhere.yaml"), {}).config.server
    assert server.config_file is None  # it says how: nothing is added
    assert ack_command(server, 7) == f"{how} incident ack 7"
    chore = {"chore": "rotate", "due_id": 4, "procedure": "Rotate keys", "assignee": "ana"}
    body = render("chore", chore, server=server).body
    assert f'Run it with: {how} runbook run "Rotate keys"' in body
    assert f'Not needed this time: {how} chore skip 4 --reason "not needed this time"' in body
    with pytest.raises(ConfigError, match="cli"):  # an empty way to run opsbook is none
        parse_config("server:\n  cli: ''\n", "opsbook.yaml", {})


def test_every_command_of_the_templates_names_a_config_elsewhere(tmp_path: Path) -> None:
    server = parse_config("title: t\n", str(tmp_path / "ops" / "opsbook.yaml"), {}).config.server
    where = shell_word(str(tmp_path / "ops" / "opsbook.yaml"))
    secret = {"secret": "jwt", "rotation": "Rotate JWT", "every": "90 d"}
    body = render("secret", secret, server=server).body
    assert f'Rotate it with: opsbook runbook run "Rotate JWT" -c {where}' in body
    assert f"if no runbook run recorded it: opsbook secret rotated jwt -c {where}" in body
    chore = render("chore", {"chore": "c", "due_id": 4, "procedure": "P"}, server=server).body
    assert f"Done another way: opsbook chore done 4 -c {where}" in chore
    assert opsbook_command(server, "status") == f"opsbook status -c {where}"
    unknown = SecretState("jwt", datetime(2026, 3, 9, tzinfo=UTC), None, None, None, None)  # never rotated
    assert f"record it with `opsbook secret rotated jwt -c {where}`" in unknown.describe(timedelta(days=90),
                                                                                       "UTC", server)
