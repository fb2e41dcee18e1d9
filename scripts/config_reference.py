"""Writes docs/configuration.md, the reference of every opsbook.yaml field, from the pydantic schema.

Usage: python scripts/config_reference.py [--check]   (--check: exit 1 if the file is out of date)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from opsbook.config.schema import OpsbookConfig

OUT = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"


def _type(prop: dict[str, Any] | bool, defs: dict[str, Any]) -> str:
    if not isinstance(prop, dict):
        return "any"
    if "$ref" in prop:
        return prop["$ref"].rsplit("/", 1)[1]
    if "const" in prop:
        return f"`{prop['const']}`"
    if "enum" in prop:
        return " \\| ".join(f"`{v}`" for v in prop["enum"])
    if "anyOf" in prop:
        return " or ".join(_type(p, defs) for p in prop["anyOf"] if p.get("type") != "null")
    kind = prop.get("type", "any")
    if isinstance(kind, list):
        kind = " or ".join(kind)
    if kind == "array":
        return f"list of {_type(prop.get('items', {}), defs)}"
    if kind == "object" and isinstance(prop.get("additionalProperties"), dict):
        return f"map of {_type(prop['additionalProperties'], defs)}"
    if prop.get("pattern") and "ms|s|m|h|d|w" in prop["pattern"]:
        return "duration"
    return str(kind)


def _default(prop: dict[str, Any], required: bool) -> str:
    if required:
        return "**required**"
    if "default" not in prop:
        return ""
    value = prop["default"]
    return f"`{value}`" if value not in (None, [], {}) else ("" if value is None else f"`{value}`")


def _section(name: str, schema: dict[str, Any], defs: dict[str, Any]) -> list[str]:
    lines = [f"### {name}", ""]
    if schema.get("description"):
        lines += [schema["description"].strip(), ""]
    props = schema.get("properties", {})
    if not props:
        return []
    required = set(schema.get("required", []))
    lines += ["| field | type | default | meaning |", "| --- | --- | --- | --- |"]
    for field, prop in props.items():
        desc = (prop.get("description") or "").replace("\n", " ").replace("|", "\\|")
        lines.append(f"| `{field}` | {_type(prop, defs)} | {_default(prop, field in required)} | {desc} |")
    return [*lines, ""]


def render() -> str:
    schema = OpsbookConfig.model_json_schema()
    defs = schema.get("$defs", {})
    out = [
        "# opsbook.yaml reference",
        "",
        "Generated from the schema by `scripts/config_reference.py`; do not edit by hand.",
        "Durations are written `30s`, `5m`, `1h30m`, `400d` (or a number of seconds).",
        "`${VAR}` and `${VAR:-default}` are replaced from the environment.",
        "",
        *_section("Top level", schema, defs),
    ]
    for name in sorted(defs):
        out += _section(name, defs[name], defs)
    return "\n".join(out).rstrip() + "\n"


def main() -> None:
    text = render()
    if "--check" in sys.argv:
        sys.exit(0 if OUT.exists() and OUT.read_text() == text else 1)
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(text)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
