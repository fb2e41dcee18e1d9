"""The `runbooks:` section of opsbook.yaml: where the Markdown runbooks are, databases for SQL steps.

Relative folders are relative to the config file's folder, which the loader tells the section
(`located_in`), so whatever holds the config can read its runbooks (`base_dir`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import Field, PrivateAttr, model_validator

from opsbook.config.types import Duration, Model, Name


class _NamesProcedure:
    """Marks a config string that names a runbook procedure (runbooks/references.py finds them)."""

    def __repr__(self) -> str:
        return "ProcedureName"


NAMES_PROCEDURE = _NamesProcedure()
ProcedureName = Annotated[str, NAMES_PROCEDURE]
"""A config value naming a runbook procedure as people type it for `opsbook runbook run` (or a URL):
`opsbook validate` says where one names nothing."""


class RunbooksSettings(Model):
    folders: list[str] = Field(
        default_factory=list,
        description="Folders of Markdown runbooks (read recursively); relative paths are from opsbook.yaml.",
    )
    databases: dict[Name, str] = Field(
        default_factory=dict,
        description="Databases `sql` steps run against, by name: SQLAlchemy URLs (use ${ENV} for passwords).",
    )
    default_database: Name | None = Field(
        default=None, description="Database of `sql` steps without {db=...}; default: the only one declared."
    )
    default_timeout: Duration = Field(
        default=timedelta(minutes=5), description="Longest a command step may run."
    )
    kill_grace: Duration = Field(
        default=timedelta(seconds=5), description="After a timeout, how long SIGTERM has before SIGKILL."
    )
    shell: str = Field(default="/bin/bash", description="Shell that runs shell steps (`-c SCRIPT`).")
    auto: list[ProcedureName] = Field(
        default_factory=list,
        description="Procedures opsbook may run unattended (remediation), by name as for `runbook run`.",
    )
    output_limit: int = Field(default=65536, ge=1024, description="Characters of each step's output kept.")
    _base_dir: str = PrivateAttr(default=".")

    @property
    def base_dir(self) -> str:
        """The folder relative `folders` are in: that of the config file (the working directory if the
        section was not loaded from a file)."""
        return self._base_dir

    def located_in(self, folder: str) -> None:
        """Called by the loader with the config file's folder."""
        self._base_dir = folder

    @model_validator(mode="after")
    def _known_default(self) -> RunbooksSettings:
        if self.default_database and self.default_database not in self.databases:
            raise ValueError(f"default_database {self.default_database!r} is not one of runbooks.databases")
        return self

    def database_for(self, name: str | None) -> tuple[str, str] | None:
        """(name, url) of the database a `sql` step uses, or None if it cannot be told."""
        if name:
            url = self.databases.get(name)
            return (name, url) if url else None
        if self.default_database:
            return self.default_database, self.databases[self.default_database]
        if len(self.databases) == 1:
            return next(iter(self.databases.items()))
        return None
