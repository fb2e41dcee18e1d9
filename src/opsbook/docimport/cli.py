"""`opsbook init --from OPERATIONS.md` (called by cli.config_cmds.init) and `opsbook doc check`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from opsbook.cli.common import ConfigOption, console, fail, print_config_error
from opsbook.docimport.reading import Document

app = typer.Typer(
    help="Your operations document and the config: do they still agree?",
    no_args_is_help=True,
    add_completion=False,
)

DocumentsArgument = Annotated[
    list[Path], typer.Argument(help="The operations document(s), e.g. OPERATIONS.md.")
]


def read_documents(paths: list[Path]) -> list[Document]:
    """The documents' bytes, named as given on the command line; exit 2 naming one that cannot be read."""
    documents = []
    for path in paths:
        try:
            documents.append(Document(str(path), path.read_bytes()))
        except OSError as exc:
            raise fail(f"cannot read {path}: {exc.strerror}") from None
    return documents


def init_from(paths: list[Path], output: Path, force: bool) -> None:
    """Write the draft of the documents to `output`, print the report, and prove the draft validates."""
    from opsbook.config.loader import parse_config
    from opsbook.config.yamlpos import ConfigError
    from opsbook.docimport.importer import import_documents
    from opsbook.docimport.samples import environment

    if output.exists() and not force:
        console.print(f"[red]{output} exists[/]; use --force to overwrite it, or --output FILE")
        raise typer.Exit(1)
    documents = read_documents(paths)
    folders = sorted({os.path.relpath(p.resolve().parent, output.resolve().parent) for p in paths})
    imported = import_documents(documents, folders)
    try:
        parse_config(imported.yaml, str(output), environment(imported.draft.variables))
    except (
        ConfigError
    ) as exc:  # a draft that does not validate is the importer's fault: say so, write nothing
        print_config_error(exc)
        raise fail("the draft does not validate (a bug in the importer); nothing was written", 1) from None
    output.write_text(imported.yaml, encoding="utf-8")
    typer.echo(imported.report_text)
    console.print(
        f"wrote {output}: {len(imported.draft.checks)} checks, {len(imported.draft.rules)} rules, "
        f"{len(imported.draft.slas)} response times, {len(imported.draft.policies)} escalation "
        f"policies, {len(imported.draft.windows)} maintenance windows",
        markup=False,
        highlight=False,
    )
    if imported.draft.variables:
        console.print(
            f"It validates once these {len(imported.draft.variables)} variables are exported (listed "
            f"with hints at the top of {output}).",
            markup=False,
            highlight=False,
        )
    console.print(f"Then: opsbook validate -c {output}", markup=False, highlight=False)


@app.command("check")
def check(documents: DocumentsArgument, config: ConfigOption = None) -> None:
    """List every disagreement between the document(s) and the config in use; exit 1 if there is any."""
    from opsbook.config.loader import config_path, load_config
    from opsbook.config.yamlpos import ConfigError, load_with_lines
    from opsbook.docimport.drift import ConfigView, compare
    from opsbook.docimport.reading import understand

    path = config_path(config)
    try:
        loaded = load_config(path)
        lines = load_with_lines(Path(path).read_text(encoding="utf-8"), path).lines
    except ConfigError as exc:
        print_config_error(exc)
        raise typer.Exit(2) from None
    draft, _ = understand(read_documents(documents))
    drifts = compare(draft, ConfigView(loaded.config, path, lines))
    names = ", ".join(str(d) for d in documents)
    if not drifts:
        console.print(f"{names} and {path} agree.", markup=False, highlight=False)
        return
    for drift in drifts:
        typer.echo(
            f"{drift.kind}: {drift.message}\n    document: {drift.document}\n    config:   {drift.config}"
        )
    typer.echo(f"{len(drifts)} disagreements between {names} and {path}.")
    raise typer.Exit(1)
