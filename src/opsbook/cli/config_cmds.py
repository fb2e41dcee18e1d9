"""`opsbook validate`, `opsbook schema`, `opsbook init`: working with opsbook.yaml itself."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from opsbook.cli.common import ConfigOption, console, fail, print_config_error
from opsbook.config.loader import DEFAULT_CONFIG, config_path, load_config
from opsbook.config.schema import OpsbookConfig
from opsbook.config.yamlpos import ConfigError, load_with_lines


def validate(config: ConfigOption = None, file: Annotated[str | None, typer.Argument()] = None) -> None:
    """Check opsbook.yaml; print every problem as FILE:LINE: field: message."""
    from opsbook.runbooks.references import reference_issues

    path = file or config_path(config)
    try:
        loaded = load_config(path)
        issues = reference_issues(loaded, Path(path).read_text(encoding="utf-8"))
        if issues:
            raise ConfigError(issues)
    except ConfigError as exc:
        print_config_error(exc)
        raise typer.Exit(1) from None
    cfg = loaded.config
    console.print(f"{path}: ok — {len(cfg.services)} services, {len(cfg.checks())} checks")
    from opsbook.locations.cli import validate_notes

    for note in validate_notes(cfg.checks()):
        console.print(note, markup=False, highlight=False)


def schema(
    config: Annotated[
        str | None,
        typer.Option(
            "--config",
            "-c",
            help="Accepted as by every command, and not used: the schema is the same for every file.",
        ),
    ] = None,
) -> None:
    """Print the JSON Schema of opsbook.yaml (for editors: yaml-language-server)."""
    document = OpsbookConfig.model_json_schema()
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "opsbook.yaml"
    typer.echo(json.dumps(document, indent=2))


def init(
    path: Annotated[Path | None, typer.Argument(help="Where to write it (or -c FILE).")] = None,
    config: Annotated[
        str | None,
        typer.Option(
            "--config", "-c", envvar="OPSBOOK_CONFIG", help=f"Where to write it (default ./{DEFAULT_CONFIG})."
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    documents: Annotated[
        list[Path] | None,
        typer.Option("--from", help="Draft it from your operations document(s) (repeat for several)."),
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Where to write it (as PATH)")] = None,
) -> None:
    """Write a commented starter opsbook.yaml, or a draft read from your OPERATIONS.md (--from)."""
    given = [p for p in (path, output, Path(config) if config is not None else None) if p is not None]
    if len(set(given)) > 1:
        raise fail(f"two files given ({' and '.join(map(str, given))}): give one")
    target = given[0] if given else Path(config_path(None))
    if documents:
        from opsbook.docimport.cli import init_from

        init_from(documents, target, force)
        return
    if target.exists() and not force:
        console.print(f"[red]{target} exists[/]; use --force to overwrite it")
        raise typer.Exit(1)
    text = resources.files("opsbook.config").joinpath("starter.yaml").read_text(encoding="utf-8")
    target.write_text(text)
    console.print(f"wrote {target}", highlight=False)
    unset = _unset_variables(text, str(target))
    if unset:
        console.print(f"It reads {len(unset)} variables from the environment that are not set here:")
        width = max(map(len, unset))
        for name, where in unset.items():
            console.print(f"  export {name}=...{' ' * (width - len(name))}  # {where}", markup=False)
    console.print(f"Edit it, then run: opsbook validate -c {target}", markup=False, highlight=False)


def _unset_variables(text: str, filename: str) -> dict[str, str]:
    """Each ${VAR} without a default that the environment does not set, and the first FILE:LINE naming it."""
    read = load_with_lines(text, filename)
    found: dict[str, str] = {}
    for where, names in read.unset.items():
        for name in names:
            found.setdefault(name, f"{filename}:{read.lines[where]}")
    return found
