"""The procedures a config names (a rule's `runbook`, `runbooks.auto`, any field typed `ProcedureName`), and
which of them the runbook folders do not have, as FILE:LINE issues for `opsbook validate`.

A field of any config section names a procedure when its type is `ProcedureName` (or a list of them);
`named_procedures` finds them by walking the loaded config, so a new section that names procedures is
checked by declaring the type, with no list to keep here. A URL (`https://wiki/...`) is not checked.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from pathlib import Path as FsPath
from typing import Any

from pydantic import BaseModel

from opsbook.config.loader import LoadedConfig
from opsbook.config.yamlpos import ConfigIssue, LoadedYaml, format_path, load_with_lines
from opsbook.runbooks.catalog import Catalog, ProcedureNotFound, catalog_of
from opsbook.runbooks.config import NAMES_PROCEDURE

Where = tuple[str | int, ...]


def _items_marked(annotation: Any) -> bool:
    """Is `annotation` a list (or tuple) of ProcedureName?"""
    args = typing.get_args(annotation)
    return bool(args) and any(NAMES_PROCEDURE in typing.get_args(arg)[1:] for arg in args)


def named_procedures(model: BaseModel, where: Where = ()) -> Iterator[tuple[Where, str]]:
    """Every (path in the file, name) of a ProcedureName value under `model`, in field order."""
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        here = (*where, info.alias or name)
        if isinstance(value, str):
            if NAMES_PROCEDURE in info.metadata:
                yield here, value
        elif isinstance(value, BaseModel):
            yield from named_procedures(value, here)
        elif isinstance(value, list | tuple):
            marked = _items_marked(info.annotation)
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    yield from named_procedures(item, (*here, i))
                elif marked and isinstance(item, str):
                    yield (*here, i), item
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, BaseModel):
                    yield from named_procedures(item, (*here, key))


def missing_procedures(
    model: BaseModel, catalog: Catalog, read: LoadedYaml, filename: str
) -> list[ConfigIssue]:
    """A FILE:LINE issue for each name under `model` that the catalog does not resolve to one procedure."""
    issues = []
    for where, name in named_procedures(model):
        if not name.strip() or name.startswith(("https://", "http://")):
            continue
        try:
            catalog.resolve(name)
        except ProcedureNotFound as exc:
            message = str(exc).split("\n", 1)[0].rstrip(":;")
            if exc.candidates:
                message += ": " + "; ".join(" ".join(c.split()) for c in exc.candidates[:5])
            if not catalog.entries:
                message += " (no runbooks found: see runbooks.folders)"
            issues.append(ConfigIssue(filename, read.lines.get(where, 1), format_path(where), message))
    return issues


def missing_folders(folders: list[str], base_dir: str, read: LoadedYaml, filename: str) -> list[ConfigIssue]:
    """A FILE:LINE issue for each runbook folder that is not a folder."""
    issues = []
    for i, folder in enumerate(folders):
        path = FsPath(folder) if FsPath(folder).is_absolute() else FsPath(base_dir) / folder
        if not path.is_dir():
            where = ("runbooks", "folders", i)
            issues.append(ConfigIssue(filename, read.lines.get(where, 1), format_path(where),
                                      f"runbook folder {str(path)!r} not found"))
    return issues


def reference_issues(loaded: LoadedConfig, text: str, env: dict[str, str] | None = None) -> list[ConfigIssue]:
    """Every runbook folder that is not there and every procedure named that the folders do not have, as
    FILE:LINE issues of `loaded` (whose file's text is `text`)."""
    read = load_with_lines(text, loaded.path, env)
    settings = loaded.config.runbooks
    return [
        *missing_folders(settings.folders, settings.base_dir, read, loaded.path),
        *missing_procedures(loaded.config, catalog_of(settings), read, loaded.path),
    ]
