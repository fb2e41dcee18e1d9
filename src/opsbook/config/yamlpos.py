"""YAML loading that remembers where every value came from, so errors can name file and line.

`load_with_lines` returns the data plus a map from each value's path (a tuple of keys and list
indices) to its 1-based line. `${VAR}` and `${VAR:-default}` in string scalars are replaced from
the environment; the values substituted are returned too, so they can be redacted everywhere. What is
wrong but readable (a duplicate key, an unset variable) is returned as issues with the data, so the
loader reports it together with every other problem of the file, in one round.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from opsbook.redact import SECRET_NAME

_CONSTRUCTOR = yaml.SafeLoader("")
Path = tuple[str | int, ...]
"""Environment variables whose values are masked wherever opsbook prints or logs text."""
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass
class ConfigIssue:
    """One problem found in a config file."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return (
            f"{self.file}:{self.line}: {self.field}: {self.message}"
            if self.field
            else (f"{self.file}:{self.line}: {self.message}")
        )


class ConfigError(Exception):
    """A config file that cannot be used; `issues` lists every problem found."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


@dataclass
class LoadedYaml:
    data: Any
    lines: dict[Path, int] = field(default_factory=dict)
    secrets: set[str] = field(default_factory=set)
    issues: list[ConfigIssue] = field(default_factory=list)
    """Problems found while reading: duplicate keys, unset environment variables."""
    unset: dict[Path, list[str]] = field(default_factory=dict)
    """Values naming an environment variable that is not set (read as ''), and those names."""

    def is_unset(self, path: Path) -> bool:
        """Whether the value at `path`, or one around it, names an unset variable (so is not known)."""
        return any(path[: len(where)] == where for where in self.unset)


def format_path(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load_with_lines(text: str, filename: str, env: Mapping[str, str] | None = None) -> LoadedYaml:
    """The data with lines, secrets and issues; ConfigError only for text that is not YAML at all."""
    env = os.environ if env is None else env
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise ConfigError([ConfigIssue(filename, line, "", f"bad YAML: {exc.problem or exc}")]) from None
    except yaml.reader.ReaderError as exc:  # a control character YAML may not hold
        line = text[: exc.position].count("\n") + 1
        shown = repr(chr(exc.character)) if isinstance(exc.character, int) else repr(exc.character)
        problem = f"bad YAML: character {shown} is not allowed (remove it, or quote it as an escape)"
        raise ConfigError([ConfigIssue(filename, line, "", problem)]) from None
    out = LoadedYaml(data=None)
    try:
        out.data = {} if root is None else _convert(root, (), out, filename, env, set())
    except yaml.MarkedYAMLError as exc:  # a value YAML cannot build (`!!python/none`, a bad merge)
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise ConfigError([ConfigIssue(filename, line, "", f"bad YAML: {exc.problem or exc}")]) from None
    return out


def _convert(
    node: yaml.Node, path: Path, out: LoadedYaml, filename: str, env: Mapping[str, str], open_nodes: set[int]
) -> Any:
    out.lines[path] = node.start_mark.line + 1
    if id(node) in open_nodes:  # `&a [*a]`: an alias inside what it names
        out.issues.append(ConfigIssue(filename, node.start_mark.line + 1, format_path(path),
                                      "a YAML alias refers to the value it is part of"))
        return None
    if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
        open_nodes.add(id(node))
        try:
            return _collection(node, path, out, filename, env, open_nodes)
        finally:
            open_nodes.discard(id(node))
    return _scalar(node, path, out, filename, env)


def _collection(
    node: yaml.MappingNode | yaml.SequenceNode, path: Path, out: LoadedYaml, filename: str,
    env: Mapping[str, str], open_nodes: set[int],
) -> Any:
    if isinstance(node, yaml.MappingNode):
        _CONSTRUCTOR.flatten_mapping(node)  # resolves `<<: *anchor` merge keys
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                out.issues.append(ConfigIssue(filename, key_node.start_mark.line + 1, format_path(path),
                                              "a key must be a plain word, not a list or a mapping"))
                continue
            built = _CONSTRUCTOR.construct_object(key_node)
            key: str | int = built if isinstance(built, str | int) and not isinstance(built, bool) else str(
                key_node.value)  # `on:`, `1.5:`, `null:` stay the words they are written as
            if key in result:
                out.issues.append(
                    ConfigIssue(
                        filename, key_node.start_mark.line + 1, format_path((*path, key)), "duplicate key"
                    )
                )
                continue
            child = (*path, key)
            out.lines[child] = key_node.start_mark.line + 1
            result[key] = _convert(value_node, child, out, filename, env, open_nodes)
            out.lines[child] = key_node.start_mark.line + 1
        return result
    return [_convert(item, (*path, i), out, filename, env, open_nodes) for i, item in enumerate(node.value)]


def _scalar(node: yaml.Node, path: Path, out: LoadedYaml, filename: str, env: Mapping[str, str]) -> Any:
    value = _CONSTRUCTOR.construct_object(node)
    if isinstance(value, str) and "${" in value:

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in env:
                if SECRET_NAME.search(name):
                    out.secrets.add(env[name])
                return env[name]
            if default is not None:
                return default
            out.unset.setdefault(path, []).append(name)
            out.issues.append(
                ConfigIssue(
                    filename,
                    node.start_mark.line + 1,
                    format_path(path),
                    f"environment variable {name} is not set",
                )
            )
            return ""

        value = _ENV.sub(substitute, value)
    return value
