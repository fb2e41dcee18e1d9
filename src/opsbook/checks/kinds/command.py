"""The `command` check kind: run a command, judge its exit code, keep the tail of its output.

`command` is a string run by `/bin/sh -c`, or a list run directly (no shell). The probe that runs it is
`probes/command.py`.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from opsbook.checks.spec import CheckSpec
from opsbook.redact import redact

_SECRET_KEY = re.compile(r"pass|token|secret|key|auth|credential", re.IGNORECASE)


class CommandCheck(CheckSpec):
    """Runs a command; fails if its exit code is not the expected one or it outlives `timeout`."""

    kind: Literal["command"]
    command: str | list[str] = Field(
        description="A shell command line (run by /bin/sh -c), e.g. `docker compose ps --status running`, "
        "or a list of arguments run without a shell, e.g. [kubectl, get, pods]."
    )
    cwd: str | None = Field(default=None, description="Working directory; opsbook's own if not given.")
    env: dict[str, str] = Field(
        default_factory=dict,
        description="Extra environment variables, added to opsbook's environment. Values of variables "
        "whose names look secret (PASSWORD, TOKEN, SECRET, KEY...) are masked in the output.",
    )
    expect_exit: int | list[int] = Field(
        default=0, description="The exit code (or list of exit codes) that means success."
    )

    @field_validator("command")
    @classmethod
    def _not_empty(cls, value: str | list[str]) -> str | list[str]:
        if not value or (isinstance(value, str) and not value.strip()):
            raise ValueError("the command is empty")
        return value

    def secrets(self) -> list[str]:
        return [value for key, value in self.env.items() if _SECRET_KEY.search(key)]

    def target(self) -> str:
        text = self.command if isinstance(self.command, str) else " ".join(self.command)
        return redact(text, self.secrets())

    def expected_exits(self) -> list[int]:
        """The exit codes that mean success."""
        return self.expect_exit if isinstance(self.expect_exit, list) else [self.expect_exit]
