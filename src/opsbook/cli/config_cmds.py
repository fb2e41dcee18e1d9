"""`opsbook validate`, `opsbook schema`, `opsbook init`: working with opsbook.yaml itself."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from opsbook.cli.common import ConfigOption, console, print_config_error
from opsbook.config.loader import config_path, load_config
from opsbook.config.schema import OpsbookConfig
from opsbook.config.yamlpos import ConfigError


def validate(config: ConfigOption = None, file: Annotated[str | None, typer.Argument()] = None) -> None:
    """Check opsbook.yaml; print every problem as FILE:LINE: field: message."""
    path = file or config_path(config)
    try:
        loaded = load_config(path)
    except ConfigError as exc:
        print_config_error(exc)
        raise typer.Exit(1) from None
    cfg = loaded.config
    console.print(f"{path}: ok — {len(cfg.services)} services, {len(cfg.checks())} checks")


def schema() -> None:
    """Print the JSON Schema of opsbook.yaml (for editors: yaml-language-server)."""
    document = OpsbookConfig.model_json_schema()
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "opsbook.yaml"
    typer.echo(json.dumps(document, indent=2))


def init(
    path: Annotated[Path, typer.Argument()] = Path("opsbook.yaml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter opsbook.yaml (API /health, PostgreSQL, Redis, disk)."""
    if path.exists() and not force:
        console.print(f"[red]{path} exists[/]; use --force to overwrite it")
        raise typer.Exit(1)
    path.write_text(resources.files("opsbook.config").joinpath("starter.yaml").read_text(encoding="utf-8"))
    console.print(f"wrote {path}; edit it, then run [bold]opsbook validate {path}[/]")


def register(app: typer.Typer) -> None:
    app.command()(validate)
    app.command()(schema)
    app.command()(init)
