"""A procedure's parameters: the values given (by name or placeholder, any case), those read from the
environment (`$VARS`), what is still missing, and commands with the values filled in."""

from __future__ import annotations

from collections.abc import Mapping

from opsbook.runbooks import destructive, placeholders
from opsbook.runbooks.document import Parameter, Procedure, Step
from opsbook.runbooks.errors import RunInputError


def env_values(procedure: Procedure, environ: Mapping[str, str]) -> dict[str, str]:
    """Values of the procedure's `$VARS` found in `environ`."""
    return {p.name: environ[p.name] for p in procedure.parameters if p.kind == "env" and p.name in environ}


def missing_parameters(
    procedure: Procedure, values: Mapping[str, str], env: Mapping[str, str]
) -> list[Parameter]:
    given = {k.lower() for k in values}
    return [
        p
        for p in procedure.parameters
        if (p.kind == "env" and p.name not in env) or (p.kind != "env" and p.name.lower() not in given)
    ]


def normalize_params(procedure: Procedure, values: Mapping[str, str]) -> dict[str, str]:
    """`--param` values keyed by the parameter's name (given by name or token, any case)."""
    out: dict[str, str] = {}
    for key, value in values.items():
        param = procedure.parameter(key)
        if param is None:
            known = ", ".join(p.name for p in procedure.parameters) or "none"
            raise RunInputError(f"unknown parameter {key!r}; this procedure's parameters: {known}")
        if param.kind == "env":
            raise RunInputError(f"{param.name} is read from the environment; set it there, not with --param")
        out[param.name] = value
    return out


def require_complete(procedure: Procedure, values: Mapping[str, str], env: Mapping[str, str]) -> None:
    """Refuse a run that lacks a value for a placeholder (an unset `$VAR` is the shell's business)."""
    missing = [p.name for p in missing_parameters(procedure, values, env) if p.kind != "env"]
    if missing:
        raise RunInputError(f"missing parameters: {', '.join(missing)}")


def filled_command(procedure: Procedure, step: Step, params: Mapping[str, str]) -> str:
    return placeholders.fill(step.command, procedure.parameters, params) if step.runnable else step.command


def step_reasons(procedure: Procedure, step: Step, params: Mapping[str, str]) -> tuple[str, ...]:
    """Why a step is destructive: as written, or once its parameters are filled in."""
    if not step.runnable:
        return ()
    extra = destructive.reasons(filled_command(procedure, step, params))
    return tuple(dict.fromkeys((*step.destructive, *extra)))
