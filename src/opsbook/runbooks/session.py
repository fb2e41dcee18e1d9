"""A run is one terminal session: the variables a shell step sets and the folder it ends in carry to the
next steps of the run (pure functions; the service runs the step and stores the state with the run).

A shell step runs wrapped: `set -a` first (so a plain `REGION=eu-west-1` is kept as `export` would
keep it), and on exit the shell writes its folder and environment to a private file (mode 0600, deleted
as soon as it is read). What changed against the environment the step started with is the session.

Secrets are never persisted: a variable whose name or value looks secret (`DB_PASSWORD`, a value that is
one of opsbook's secrets, a URL with a password) is kept only in the memory of the process walking the
run, and its name is recorded as withheld; `opsbook runbook resume` asks for it again (hidden). Keeping
an encrypted copy would need a key stored next to the database, which protects nothing.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from opsbook.redact import SECRET_NAME, redact

_IGNORED = frozenset({"_", "SHLVL", "PWD", "OLDPWD", "PS1", "PS2", "PS4", "IFS", "OPTIND", "LINENO"})
_PREFIX = "OPSBOOK_SESSION_"


@dataclass(frozen=True)
class SessionState:
    """The session of a run so far: its folder, the variables set (persisted) and withheld (secret),
    and the variables unset by its steps."""

    cwd: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    withheld: tuple[str, ...] = ()
    unset: tuple[str, ...] = ()

    def to_record(self) -> dict[str, Any]:
        return {
            "cwd": self.cwd,
            "variables": dict(self.variables),
            "withheld": list(self.withheld),
            "unset": list(self.unset),
        }

    @classmethod
    def from_record(cls, data: Mapping[str, Any] | None) -> SessionState:
        if not data:
            return cls()
        return cls(
            cwd=data.get("cwd"),
            variables={str(k): str(v) for k, v in (data.get("variables") or {}).items()},
            withheld=tuple(data.get("withheld") or ()),
            unset=tuple(data.get("unset") or ()),
        )

    def environment(self, base: Mapping[str, str], held: Mapping[str, str]) -> dict[str, str]:
        """The environment of the next step: `base`, without what was unset, with the variables set and
        the withheld ones the walking process still holds (`held`)."""
        env = {k: v for k, v in base.items() if k not in self.unset}
        env.update(self.variables)
        env.update({k: v for k, v in held.items() if k in self.withheld})
        return env


def wrap(script: str, state_file: str) -> str:
    """`script` as run: assignments exported, and its folder and environment written to `state_file` when
    the shell exits (also through `exit` or `set -e`), with the script's exit status kept."""
    target = shlex.quote(state_file)
    dump = f"{{ pwd; printf '\\0'; env -0; }} > {target} 2>/dev/null"
    trap = f"{_PREFIX}RC=$?; {dump}; exit ${_PREFIX}RC"
    return f"set -a\ntrap {shlex.quote(trap)} EXIT\n{script}\n"


def read_dump(data: bytes) -> tuple[str, dict[str, str]] | None:
    """The folder and environment a wrapped step wrote (None if it wrote nothing: killed, or no `env`)."""
    text = data.decode("utf-8", errors="replace")
    cwd, sep, rest = text.partition("\n\0")
    if not sep or not cwd:
        return None
    env: dict[str, str] = {}
    for item in rest.split("\0"):
        name, eq, value = item.partition("=")
        if eq and name:
            env[name] = value
    return cwd, env


def looks_secret(name: str, value: str, secrets: Iterable[str]) -> bool:
    """A variable not to persist: a secret-looking name, a known secret as value, or a URL password."""
    if SECRET_NAME.search(name):
        return True
    return redact(value, secrets) != value


def advance(
    state: SessionState,
    before: Mapping[str, str],
    after: tuple[str, dict[str, str]] | None,
    secrets: Iterable[str],
) -> tuple[SessionState, dict[str, str]]:
    """The session after a step that started with environment `before` and left `after`; and the values
    of the secret variables it set (to hold in memory, never stored)."""
    if after is None:
        return state, {}
    cwd, env = after
    env = {k: v for k, v in env.items() if _carried(k)}
    changed = {k: v for k, v in env.items() if before.get(k) != v}
    removed = {k for k in before if _carried(k) and k not in env}
    known = set(secrets)
    secret = {k: v for k, v in changed.items() if looks_secret(k, v, known)}
    variables = {k: v for k, v in state.variables.items() if k not in removed and k not in secret}
    variables.update({k: v for k, v in changed.items() if k not in secret})
    withheld = (set(state.withheld) - removed - set(changed)) | set(secret)
    unset = (set(state.unset) - set(changed)) | removed
    new = SessionState(cwd, variables, tuple(sorted(withheld)), tuple(sorted(unset)))
    return new, secret


def _carried(name: str) -> bool:
    return name not in _IGNORED and not name.startswith(_PREFIX) and not name.startswith("BASH_FUNC_")

