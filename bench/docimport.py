"""Benchmark: `opsbook init --from` on long documents, and `opsbook doc check` against the draft.

    .venv/bin/python bench/docimport.py [--copies 1 10 50]

The document is the project's two example runbooks and the importer's ten fixture documents, joined, then
repeated N times (every copy's headings, rules and windows again). Printed per size: bytes, statements,
import time (decode + Markdown + recognisers + YAML + report), validation of the draft by the real loader,
drift check time, and peak memory of the import (tracemalloc, in a second run).
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from pathlib import Path

from opsbook.config.loader import parse_config
from opsbook.config.yamlpos import load_with_lines
from opsbook.docimport.drift import ConfigView, compare
from opsbook.docimport.importer import import_documents
from opsbook.docimport.reading import Document
from opsbook.docimport.samples import environment

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [*sorted((ROOT.parent / "shared" / "examples").glob("*.md")),
           *sorted((ROOT / "tests" / "docimport" / "docs").rglob("*.md"))]


def one(copies: int) -> None:
    base = b"\n\n".join(p.read_bytes().replace(b"\r\n", b"\n") for p in SOURCES)
    data = b"\n\n".join([base] * copies)
    started = time.perf_counter()
    result = import_documents([Document("OPERATIONS.md", data)], ["."])
    imported = time.perf_counter() - started
    tracemalloc.start()  # a second run for memory: tracing slows Python several times over
    import_documents([Document("OPERATIONS.md", data)], ["."])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    env = environment(result.draft.variables)
    started = time.perf_counter()
    loaded = parse_config(result.yaml, "opsbook.yaml", env)
    validated = time.perf_counter() - started
    started = time.perf_counter()
    view = ConfigView(loaded.config, "opsbook.yaml", load_with_lines(result.yaml, "opsbook.yaml", env).lines)
    drift = compare(result.draft, view)
    checked = time.perf_counter() - started
    print(f"{copies:>4} × | {len(data) / 1024:>8.0f} KiB | {len(result.statements):>7} statements | "
          f"import {imported:6.2f} s ({len(data) / 1024 / imported:5.0f} KiB/s) | "
          f"validate {validated:5.2f} s | "
          f"doc check {checked:5.2f} s, {len(drift)} drift | peak {peak / 2**20:5.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, nargs="+", default=[1, 10, 50])
    for copies in parser.parse_args().copies:
        one(copies)


if __name__ == "__main__":
    main()
