"""Headings whose only content is sub-sections, as procedures of their own (pure: procedures in, out).

A runbook often says

    ## API Not Responding
    ### Symptoms          (facts, no steps)
    ### Steps             (the steps)

The parser makes a procedure of each heading with steps under it, so the steps above are the procedure
"API Not Responding › Steps", while the alert rule says `runbook: "API Not Responding"`. `sections`
gives every heading above a procedure that has no steps of its own a procedure too: its sub-sections'
steps in document order (labelled with the sub-section they come from when there are several), their
parameters merged. The catalog resolves a name to these only when no procedure of the parser has it.
Given the document's lines, each gets the line of its own heading (else that of its first sub-section).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import replace

from opsbook.runbooks import placeholders
from opsbook.runbooks.document import PATH_SEP, Procedure, Step
from opsbook.runbooks.text import clean_title, slugify, unique

_ATX = re.compile(r" {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")


def heading_lines(lines: Sequence[str]) -> dict[str, list[int]]:
    """Where each ATX heading title is (lines from 1, in order), fenced code left out."""
    found: dict[str, list[int]] = {}
    fence = ""
    for n, line in enumerate(lines, 1):
        opened = _FENCE.match(line)
        if opened and (not fence or opened.group(1).startswith(fence)):
            fence = "" if fence else opened.group(1)[:3]
        elif not fence and (m := _ATX.match(line)):
            found.setdefault(clean_title(m.group(1)), []).append(n)
    return found


def _steps(prefix: tuple[str, ...], children: list[Procedure]) -> tuple[Step, ...]:
    if len(children) == 1:
        return children[0].steps  # one sub-section: its steps as they are (their names are unique already)
    names: set[str] = set()
    out: list[Step] = []
    for child in children:
        label = PATH_SEP.join(child.path[len(prefix):])
        for step in child.steps:
            group = f"{label}: {step.group}" if step.group else label
            out.append(replace(step, group=group, name=unique(step.name or slugify(step.title, 40), names)))
    return tuple(out)


def _line(title: str, below: int, headings: dict[str, list[int]]) -> int:
    """The last line called `title` above line `below`, else `below`."""
    at = headings.get(title, [])
    i = bisect.bisect_left(at, below)
    return at[i - 1] if i else below


def _combined(
    prefix: tuple[str, ...], children: list[Procedure], used_slugs: set[str], headings: dict[str, list[int]]
) -> Procedure:
    first = children[0]
    return Procedure(
        title=prefix[-1],
        path=prefix,
        slug=unique(slugify(" ".join(prefix), 80), used_slugs),
        level=max(1, first.level - (len(first.path) - len(prefix))),
        line=_line(prefix[-1], first.line, headings),
        steps=_steps(prefix, children),
        parameters=first.parameters if len(children) == 1 else tuple(
            placeholders.merge([list(c.parameters) for c in children])),
        description=first.description if len(children) == 1 else "",
        auto=all(c.auto for c in children),
    )


def sections(procedures: tuple[Procedure, ...], lines: Sequence[str] = ()) -> tuple[Procedure, ...]:
    """A procedure for each heading above `procedures` that is not one of them (see the module docstring),
    in the order of their first sub-section; slugs unique among all of them. `lines`: the document's."""
    own = {p.path for p in procedures}
    under: dict[tuple[str, ...], list[Procedure]] = {}
    for procedure in procedures:
        for k in range(1, len(procedure.path)):
            prefix = procedure.path[:k]
            if prefix not in own:
                under.setdefault(prefix, []).append(procedure)
    used = {p.slug for p in procedures}
    headings = heading_lines(lines)
    return tuple(_combined(prefix, children, used, headings) for prefix, children in under.items())
