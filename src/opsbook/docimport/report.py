"""The import report: what was understood, section by section; what was understood but has no place in
opsbook.yaml yet, by domain; and every statement that could not be mapped, with its line."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from opsbook.docimport import placeholders
from opsbook.docimport.model import Draft, Fate
from opsbook.docimport.statements import Statement

_QUOTE = 90


@dataclass
class Report:
    """The fates of the statements, grouped for reading."""

    sections: dict[str, list[Fate]] = field(default_factory=dict)
    """Mapped statements by `file › section › subsection`."""
    unsupported: dict[str, list[Fate]] = field(default_factory=dict)
    """Understood statements by the domain that would hold them."""
    unknown: list[Fate] = field(default_factory=list)

    def unknown_lines(self) -> list[tuple[str, int]]:
        return [(f.statement.file, f.statement.line) for f in self.unknown]


def build(draft: Draft) -> Report:
    report = Report()
    tops: dict[str, set[str]] = {}
    for fate in draft.fates.values():
        if len(fate.statement.section) > 1:
            tops.setdefault(fate.statement.file, set()).add(fate.statement.section[0])
    titles = {file: next(iter(found)) for file, found in tops.items() if len(found) == 1}
    for _, fate in sorted(draft.fates.items()):
        if fate.status == "mapped":
            report.sections.setdefault(_where(fate.statement, titles), []).append(fate)
        elif fate.status == "unsupported":
            report.unsupported.setdefault(fate.what, []).append(fate)
        else:
            report.unknown.append(fate)
    return report


def _where(statement: Statement, titles: dict[str, str]) -> str:
    """`file › section › subsection`, without the document's title (the one heading over all the others)."""
    section = statement.section
    if len(section) > 1 and titles.get(statement.file) == section[0]:
        section = section[1:]
    return " › ".join((statement.file, *section))


def placeholders_left(draft: Draft) -> dict[str, list[str]]:
    """Each `[PLACEHOLDER]` of the document (upper case, a template's), with the lines it stands on."""
    found: dict[str, list[str]] = {}
    for _, fate in sorted(draft.fates.items()):
        for name in placeholders.bracketed(fate.statement.source):
            if re.fullmatch(r"[A-Z][A-Z0-9_ ]{2,40}", name.strip()):
                where = fate.statement.where
                found.setdefault(name.strip(), [])
                if where not in found[name.strip()]:
                    found[name.strip()].append(where)
    return found


def _quote(statement: Statement) -> str:
    words = " ".join(statement.full.split())
    return words if len(words) <= _QUOTE else words[: _QUOTE - 1] + "…"


def render(report: Report, draft: Draft) -> str:
    """The report as text for a terminal (80 columns where the quotes allow)."""
    lines: list[str] = ["Understood, by section:"]
    for where, fates in report.sections.items():
        lines.append(f"  {where}")
        steps = [f for f in fates if f.what.startswith("runbook step")]
        for fate in fates:
            if fate.what.startswith("runbook step"):
                continue
            lines.append(f"    {fate.statement.line:>4}  {fate.what}")
        if steps:
            first, last = steps[0].statement.line, steps[-1].statement.line
            span = f"lines {first}-{last}" if first != last else f"line {first}"
            lines.append(f"          {len(steps)} runbook steps ({span}): read by `opsbook runbook import`")
    if report.unsupported:
        lines.append("")
        lines.append("Understood, not mapped onto opsbook.yaml (the domain each belongs to):")
        for domain, fates in report.unsupported.items():
            lines.append(f"  {domain} ({len(fates)}):")
            for fate in fates:
                lines.append(f"    {fate.statement.where}  {_quote(fate.statement)}")
    lines.append("")
    lines.append(f"Not understood ({len(report.unknown)}):" if report.unknown else "Not understood: nothing.")
    for fate in report.unknown:
        why = f"  ({fate.what})" if fate.what else ""
        lines.append(f"  {fate.statement.where}  {_quote(fate.statement)}{why}")
    left = placeholders_left(draft)
    if left:
        lines.append("")
        lines.append(
            f"Placeholders still in the document ({len(left)}; fill them in there: a runbook step asks for "
            "its own as parameters):"
        )
        for name, found in left.items():
            shown = ", ".join(found[:4]) + (f" and {len(found) - 4} more" if len(found) > 4 else "")
            lines.append(f"  [{name}]  {shown}")
    if draft.variables:
        lines.append("")
        lines.append(
            f"Variables to export before `opsbook validate` ({len(draft.variables)}): "
            + ", ".join(draft.variables)
        )
    return "\n".join(lines) + "\n"
