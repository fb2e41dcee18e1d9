"""A suggested command line reads back, through a POSIX shell's word splitting, as exactly the words meant,
whatever the procedure is called (quotes, dollars, backticks, exclamation marks, unicode)."""

from __future__ import annotations

import shlex
import subprocess

from hypothesis import given
from hypothesis import strategies as st

from opsbook.notify.templates import render
from opsbook.runbooks.commands import run_command, shell_word

NAMES = st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=40).filter(str.strip)


@given(NAMES, st.one_of(st.none(), st.integers(min_value=1, max_value=10**9)))
def test_a_run_command_splits_back_into_its_words(name: str, incident: int | None) -> None:
    words = shlex.split(run_command(name, incident))
    assert words[:4] == ["opsbook", "runbook", "run", name.strip()]
    assert words[4:] == ([] if incident is None else ["--incident", str(incident)])


def test_readable_quoting_where_it_is_safe_and_a_real_shell_agrees() -> None:
    assert run_command("API Not Responding", 12) == 'opsbook runbook run "API Not Responding" --incident 12'
    assert shell_word("restart") == "restart"
    tricky = ['Rotate the "JWT" secret', "Cost: $5 `now`!", "it's down", "Base de données › Lente"]
    for name in tricky:
        echoed = subprocess.run(["bash", "-c", f"printf '%s' {shell_word(name)}"], capture_output=True,
                                text=True, check=True)
        assert echoed.stdout == name


def test_templates_quote_with_the_shell_filter() -> None:
    body = render("secret", {"secret": "jwt", "rotation": 'Rotate the "JWT" secret', "every": "90 d"}).body
    assert "Rotate it with: opsbook runbook run 'Rotate the \"JWT\" secret'" in body
