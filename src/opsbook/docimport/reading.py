"""One or more documents → a `Draft`: every statement read, each recogniser in turn, and the fate of every
statement recorded (mapped, understood but not yet supported, or not understood)."""

from __future__ import annotations

from dataclasses import dataclass

from opsbook.docimport import alerts, checks, domains, oncall, others, severities, windows
from opsbook.docimport.encoding import decode
from opsbook.docimport.model import Draft
from opsbook.docimport.statements import Statement, read


@dataclass(frozen=True)
class Document:
    """A document's name as it is to be cited (`OPERATIONS.md`) and its bytes."""

    name: str
    data: bytes


def statements_of(documents: list[Document]) -> list[Statement]:
    out: list[Statement] = []
    for document in documents:
        out += read(decode(document.data), document.name)
    return out


def understand(documents: list[Document]) -> tuple[Draft, list[Statement]]:
    """Every recogniser over every statement of the documents, in an order where each sees what the earlier
    ones found: severity words before the rules that use them, checks before the rules on them."""
    statements = statements_of(documents)
    draft = Draft(files=[d.name for d in documents])
    others.settings(statements, draft)
    severities.glossary(statements, draft)
    checks.recognise(statements, draft)
    severities.recognise(statements, draft)
    alerts.recognise(statements, draft)
    checks.health_sentences(statements, draft)
    oncall.recognise(statements, draft)
    windows.recognise(statements, draft)
    domains.recognise(statements, draft)
    others.recognise(statements, draft)
    return draft, statements
