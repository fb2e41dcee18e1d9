"""Stand-in values for a draft's variables, of the right shape for each (an Apprise URL, a DSN, a host
name, a date), so a draft can be validated before anyone has filled it in. Never written to the draft."""

from __future__ import annotations

from opsbook.docimport.model import Variable


def sample(variable: Variable) -> str:
    name, hint = variable.name, variable.hint.lower()
    if "apprise" in hint:
        return "json://127.0.0.1:9/opsbook-draft"
    if hint.startswith("postgresql://") or name.endswith("DATABASE_URL"):
        return "postgresql://opsbook:secret@127.0.0.1:5432/opsbook"
    if hint.startswith("redis://"):
        return "redis://127.0.0.1:6379/0"
    if name.endswith("_HEALTH_URL") or hint.startswith("url"):
        return "https://service.invalid/health"
    if name.endswith("_HOST"):
        return "service.invalid"
    if name.endswith("_CRON"):
        return "0 2 * * *"
    if "yyyy-mm-dd" in hint:
        return "2026-01-05"
    return "opsbook-draft-value"


def environment(variables: dict[str, Variable]) -> dict[str, str]:
    """A stand-in environment holding every variable of a draft."""
    return {name: sample(variable) for name, variable in variables.items()}
