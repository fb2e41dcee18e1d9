"""The whole import as one pure function: documents in, the draft's YAML text and the report out."""

from __future__ import annotations

from dataclasses import dataclass

from opsbook.docimport import draft as drafting
from opsbook.docimport import report as reporting
from opsbook.docimport.model import Draft
from opsbook.docimport.reading import Document, understand
from opsbook.docimport.statements import Statement


@dataclass
class Imported:
    draft: Draft
    statements: list[Statement]
    yaml: str
    report: reporting.Report
    report_text: str


def import_documents(documents: list[Document], runbook_folders: list[str] | None = None) -> Imported:
    """Read the documents and write the draft; never raises on any text."""
    draft, statements = understand(documents)
    text = drafting.render(draft, runbook_folders or [])
    report = reporting.build(draft)
    return Imported(draft, statements, text, report, reporting.render(report, draft))
