"""Helpers of the docimport tests: import the fixture documents, validate drafts with the real loader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from opsbook.config.loader import LoadedConfig, parse_config
from opsbook.docimport.importer import Imported, import_documents
from opsbook.docimport.reading import Document
from opsbook.docimport.samples import environment

DOCS = Path(__file__).parent / "docs"
EXAMPLES = Path(__file__).resolve().parents[1] / "runbooks" / "data" / "examples"
"""The repository's copy of the two example runbooks (a clean clone has no shared folder beside it)."""


def imported(*paths: Path) -> Imported:
    return import_documents([Document(p.name, p.read_bytes()) for p in paths], ["."])


def validated(result: Imported) -> LoadedConfig:
    """The draft loaded by opsbook's own loader, every variable given a stand-in value of its shape."""
    return parse_config(result.yaml, "opsbook.yaml", environment(result.draft.variables))


def rules(config: LoadedConfig) -> dict[str, tuple[str, str | None]]:
    """`service/rule` → (when, severity) of every service rule."""
    return {
        f"{s.name}/{r.rule_name()}": (r.when, r.severity.value if r.severity else None)
        for s in config.config.services
        for r in s.rules
    }


def checks(config: LoadedConfig) -> dict[str, Any]:
    """The checks of the configured services (not those opsbook derives from backups and secrets)."""
    return {f"{s.name}/{c.name}": c for s in config.config.services for c in s.checks}


def slas(config: LoadedConfig) -> dict[str, str | None]:
    sla = config.config.incidents.sla
    out: dict[str, str | None] = {}
    for level in ("P0", "P1", "P2", "P3", "P4"):
        value = getattr(sla, level)
        out[level] = (
            None if value is None else value if isinstance(value, str) else f"{int(value.total_seconds())}s"
        )
    return out


def levels(config: LoadedConfig, policy: str = "default") -> list[tuple[list[str], int | None]]:
    found = next(p for p in config.config.escalation_policies if p.name == policy)
    return [(list(lv.targets), int(lv.after.total_seconds()) if lv.after else None) for lv in found.levels]


def unknown_lines(result: Imported) -> list[int]:
    return [line for _, line in result.report.unknown_lines()]


def imported_bytes(data: bytes, name: str = "OPERATIONS.md") -> Imported:
    return import_documents([Document(name, data)], ["."])
