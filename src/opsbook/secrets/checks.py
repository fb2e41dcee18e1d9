"""Secrets as checks of the pipeline: `secrets/<name>`, one per secret of the inventory.

Its results (recorded by the secret watch, `secrets.watch`, at the instants they change) carry the
secret's age against its policy; its rules fire "rotation due soon" (P3), "rotation overdue" (P2) and
"emergency rotation overdue" after a compromise (P1), each at the severity the secret's config sets.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from opsbook.checks.spec import CheckSpec
from opsbook.config.types import format_duration
from opsbook.rules.config import RuleConfig
from opsbook.secrets.config import SecretConfig

SERVICE = "secrets"
"""The service every secret check belongs to (and that compromises and rotation failures alert on)."""


class SecretCheck(CheckSpec):
    """A secret's age against its rotation policy (results pushed by the secret watch)."""

    kind: Literal["secret"]
    secret: str
    push: ClassVar[bool] = True

    def target(self) -> str:
        return f"secret {self.secret}"


def _rule(secret: SecretConfig, name: str, when: str, summary: str, severity: object) -> RuleConfig:
    return RuleConfig.model_validate({
        "name": name, "when": when, "severity": severity, "runbook": secret.rotation,
        "summary": f"Secret {secret.name}: {summary}".replace("{", "(").replace("}", ")") + " ({{ detail }})",
        "labels": {"secret": secret.name, "owner": secret.owner},
    })


def derived_checks(secrets: list[SecretConfig]) -> list[CheckSpec]:
    """The checks of the `secrets` service."""
    out: list[CheckSpec] = []
    for s in secrets:
        every = format_duration(s.every)
        out.append(SecretCheck(
            kind="secret", name=s.name, secret=s.name, failures=0,
            description=f"Rotation of {s.name} every {every}" + (f" ({s.protects})" if s.protects else ""),
            labels={"secret": s.name, "owner": s.owner},
            rules=[
                _rule(s, "rotation-due", "due_soon > 0", "rotation due soon", s.due_severity),
                _rule(s, "rotation-overdue", "overdue > 0", f"rotation overdue (policy: every {every})",
                      s.overdue_severity),
                _rule(s, "emergency-rotation-overdue", "emergency_overdue > 0",
                      "emergency rotation after a compromise is overdue", s.urgent_severity),
            ],
        ))
    return out
