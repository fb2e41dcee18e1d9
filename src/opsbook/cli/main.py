"""The `opsbook` command: assembles every domain's command group."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="opsbook: your OPERATIONS.md, running.", add_completion=False)

# --- command groups of each domain (one add_typer line each) ---
# --- end of command groups ---
