"""The `secrets:` section of opsbook.yaml: an inventory of secrets and their rotation policies, never values.

```yaml
secrets:
  - name: jwt-signing-key
    owner: ana                          # a user: told when rotation is due soon
    protects: API sessions (api)
    every: 90d                          # rotation policy
    rotation: "Rotate the JWT secret"   # the runbook procedure that rotates it
    last_rotated:                       # optional: how opsbook reads the last rotation itself
      command: aws secretsmanager describe-secret --secret-id jwt --query LastRotatedDate --output text
      # or file: /etc/ssl/private/api.key   (its modification time)
```

Besides a command or a file, a rotation is learned from `opsbook secret rotated NAME` and from a
successful runbook run of the secret's `rotation` procedure.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Self

from pydantic import (
    AfterValidator,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from opsbook.config.types import Duration, Model, PositiveDuration
from opsbook.rules.config import SeverityLevel
from opsbook.rules.severity import Severity
from opsbook.runbooks.config import ProcedureName

SecretName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_\-]*$", min_length=1, max_length=64)]


class RotationSource(Model):
    """Where opsbook reads when the secret was last rotated: a command printing a date, or a file's mtime."""

    command: str | None = Field(
        default=None, description="Shell command printing the last rotation (ISO 8601 or epoch seconds)."
    )
    file: str | None = Field(default=None, description="A file whose modification time is the last rotation.")
    every: PositiveDuration = Field(default=timedelta(hours=1), description="How often it is read.")
    timeout: PositiveDuration = Field(
        default=timedelta(seconds=30), description="Longest the command may take."
    )
    env: dict[str, str] = Field(default_factory=dict, description="Environment of the command (use ${ENV}).")

    @model_validator(mode="after")
    def _one(self) -> Self:
        if (self.command is None) == (self.file is None):
            raise ValueError("give exactly one of 'command' or 'file'")
        return self


class SecretConfig(Model):
    """One secret of the inventory: who owns it, what it protects, how often it is rotated."""

    name: SecretName
    owner: str = Field(min_length=1, max_length=100, description="The user who rotates it (users[].name).")
    protects: str = Field(default="", description="What it protects, in words.")
    every: PositiveDuration = Field(description="Rotation policy: rotate at least this often (e.g. 90d).")
    warn_before: Duration = Field(
        default=timedelta(days=14), description="The owner is told this long before rotation is due."
    )
    emergency_within: PositiveDuration = Field(
        default=timedelta(hours=24), description="Deadline of an emergency rotation after a compromise."
    )
    rotation: ProcedureName = Field(
        default="", description="The procedure that rotates it, by name as for `runbook run`."
    )
    last_rotated: RotationSource | None = Field(default=None, description="Read the last rotation from here.")
    due_severity: SeverityLevel = Field(default=Severity.P3, description="Severity of 'rotation due soon'.")
    overdue_severity: SeverityLevel = Field(
        default=Severity.P2, description="Severity of 'rotation overdue'."
    )
    urgent_severity: SeverityLevel = Field(
        default=Severity.P1, description="Severity of a compromise, a failed rotation, a missed emergency."
    )


def _check(items: list[SecretConfig], info: ValidationInfo) -> list[SecretConfig]:
    """Each secret name once; every owner is a user of `users:`."""
    if items and any(s.name == "secrets" for s in info.data.get("services") or ()):
        raise ValueError("a service is named 'secrets': that name is the secrets inventory's "
                         "(rename the service)")
    seen: set[str] = set()
    for item in items:
        if item.name in seen:
            raise ValueError(f"secret name {item.name!r} is used twice")
        seen.add(item.name)
    users = info.data.get("users")
    if users is None:  # `users:` itself is invalid (or absent from a partial model): reported there
        return items
    known = {u.name for u in users}
    details = [
        InitErrorDetails(
            type=PydanticCustomError("reference", f"unknown user {s.owner!r}; add it under `users:`"),
            loc=(i, "owner"), input=s.owner,
        )
        for i, s in enumerate(items) if s.owner not in known
    ]
    if details:
        raise ValidationError.from_exception_data("opsbook.yaml", details)
    return items


Secrets = Annotated[list[SecretConfig], AfterValidator(_check)]
"""The type of `OpsbookConfig.secrets`."""
