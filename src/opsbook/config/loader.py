"""Reads opsbook.yaml: YAML with line numbers, `${ENV}` substitution, pydantic validation.

Every problem becomes `FILE:LINE: field.path: message`, all of them in one round (every unset variable,
duplicate and invalid value at once); nothing half-valid is ever returned.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

from pydantic import ValidationError

from opsbook.config.schema import OpsbookConfig
from opsbook.config.yamlpos import ConfigError, ConfigIssue, LoadedYaml, Path, format_path, load_with_lines
from opsbook.redact import environment_secrets

DEFAULT_CONFIG = "opsbook.yaml"


@dataclass
class LoadedConfig:
    """A valid config, the file it came from, and the secrets substituted into it from the environment."""

    config: OpsbookConfig
    path: str
    secrets: set[str] = field(default_factory=set)
    _all: frozenset[str] | None = field(default=None, init=False, repr=False, compare=False)

    def all_secrets(self) -> set[str]:
        """Every literal secret of this config: ${ENV} values of secret-named variables, what each
        check, channel and user contact declares secret (passwords in DSNs, tokens in URLs), and the
        secrets of opsbook's environment that the config does not name. Computed once (the config is
        immutable; the environment is read when opsbook starts)."""
        if self._all is None:
            self._all = frozenset(self._collect())
        return set(self._all)

    def _collect(self) -> set[str]:
        found = set(self.secrets) | environment_secrets()
        cfg = self.config
        for check in cfg.checks().values():
            found.update(check.secrets())
        for channel in cfg.channels:
            found.update(channel.secrets())
        for user in cfg.users:
            found.update(user.secrets())
        return found


def config_path(explicit: str | None = None) -> str:
    return explicit or os.environ.get("OPSBOOK_CONFIG") or DEFAULT_CONFIG


def load_config(path: str, env: Mapping[str, str] | None = None, *, cached: bool = False) -> LoadedConfig:
    """The file at `path`, validated. With `cached` (and the process's environment), an unchanged file
    in an unchanged environment is served from opsbook.config.cache instead of being validated again."""
    try:
        text = FsPath(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigIssue(path, 1, "", f"cannot read the file: {exc.strerror}")]) from None
    if cached and env is None:
        from opsbook.config.cache import cached as from_cache

        return from_cache(text, path, lambda read: parse_config(text, path, read))
    return parse_config(text, path, env)


def parse_config(text: str, filename: str, env: Mapping[str, str] | None = None) -> LoadedConfig:
    loaded = load_with_lines(text, filename, env)
    if not isinstance(loaded.data, dict):
        raise ConfigError(
            [*loaded.issues, ConfigIssue(filename, 1, "", "the file must be a mapping of settings")]
        )
    issues = [*loaded.issues, *_duplicate_names(loaded.data, (), loaded, filename)]
    try:
        config = OpsbookConfig.model_validate(loaded.data)
    except ValidationError as exc:
        for error in exc.errors():
            path = _real_path(error, loaded)
            if not loaded.is_unset(path):  # an unset variable's value is unknown: its issue says so
                issues.append(_issue(error, path, loaded, filename))
    if issues:
        raise ConfigError(issues)
    config.runbooks.located_in(str(FsPath(filename).resolve().parent))
    absolute = os.path.abspath(filename)
    config.server.read_from(None if absolute == os.path.abspath(DEFAULT_CONFIG) else absolute)
    return LoadedConfig(config=config, path=filename, secrets=loaded.secrets)


def _duplicate_names(data: Any, path: Path, loaded: LoadedYaml, filename: str) -> Iterator[ConfigIssue]:
    """In every list of named items (services, checks, users, schedules…) a name may appear once."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _duplicate_names(value, (*path, key), loaded, filename)
    elif isinstance(data, list):
        seen: set[Any] = set()
        for i, item in enumerate(data):
            if isinstance(item, dict) and isinstance(item.get("name"), str | int):
                if item["name"] in seen:
                    where = (*path, i, "name")
                    yield ConfigIssue(
                        filename,
                        loaded.lines.get(where, 1),
                        format_path(where),
                        f"{item['name']!r} is used twice in {format_path(path)}",
                    )
                seen.add(item["name"])
            yield from _duplicate_names(item, (*path, i), loaded, filename)


def _real_path(error: Any, loaded: LoadedYaml) -> Path:
    """A pydantic error's location as the data's real path (union tags dropped)."""
    real: list[str | int] = []
    node: Any = loaded.data
    for part in error["loc"]:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_dict or in_list:
            real.append(part)
            node = node[part]
        elif error["type"] in ("missing", "extra_forbidden") and part == error["loc"][-1]:
            real.append(part)
        # anything else is a union member's tag, not part of the file
    if error["type"] == "union_tag_invalid":
        real.append("kind")
    return tuple(real)


def _issue(error: Any, path: Path, loaded: LoadedYaml, filename: str) -> ConfigIssue:
    """A pydantic error at `path` in words, at the line of the path (or of the nearest value around it)."""
    line = loaded.lines.get(path)
    probe = path
    while line is None and probe:
        probe = probe[:-1]
        line = loaded.lines.get(probe)
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        message = "unknown field"
    elif error["type"] == "missing":
        message = "field required"
    elif error["type"] == "union_tag_invalid":
        message = (
            f"unknown kind {error['input'].get('kind')!r}; expected one of {error['ctx']['expected_tags']}"
        )
    elif error["type"] == "union_tag_not_found":
        message = f"field 'kind' is required; one of {_tags(error)}"
    message = message.removeprefix("Value error, ")
    return ConfigIssue(filename, line or 1, format_path(path), message)


def _tags(error: Any) -> str:
    ctx = error.get("ctx") or {}
    return str(ctx.get("expected_tags") or ctx.get("discriminator") or "")
