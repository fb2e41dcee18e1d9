r"""Markdown runbook -> procedures and steps (pure: text in, plain data out; no I/O, no clock).

- Every heading with actionable steps under it (before the next heading) is a procedure; its parent
  headings give its path ("Troubleshooting \u203a API Not Responding"). A lone top-level `#` heading is the
  document's title, not part of the paths. Headings are cleaned of emoji, mangled glyphs and quotes.
- Checklist items (`- [ ]`, `- [x]`, `☐` lines, also when the encoding was mangled) are confirm steps.
- Ordered lists, and bulleted lists whose items read as actions, are manual steps.
- Fenced and indented code blocks (also inside list items) are command or reference steps (blocks.py).
- A paragraph that is only bold text (`**Checklist:**`) labels the steps after it (their `group`).
- `<!-- opsbook: auto=true -->` in a section, or `auto: true` in front matter, allows unattended runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from dataclasses import replace as dc_replace
from typing import Any

import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token

from opsbook.runbooks import placeholders
from opsbook.runbooks.blocks import CHECKBOX, CHECKED_GLYPHS, block_steps, parse_info
from opsbook.runbooks.document import Procedure, Runbook, Step
from opsbook.runbooks.text import clean_title, repair_mojibake, slugify

_MD = MarkdownIt("commonmark").enable("table")
_LABEL = re.compile(r"^\s*\*\*[^*]+\*\*\s*(?::|-|\u2013|\u2014)|^\s*\*\*[^*]+:\*\*|^\s*__[^_]+__\s*:")
_DIRECTIVE = re.compile(r"<!--\s*opsbook\s*:?\s*(.*?)-->", re.S | re.I)
_CONDITIONAL = frozenset(
    {"if", "when", "for", "after", "before", "during", "once", "in", "on", "while", "until"}
)
_VERBS = """
check verify confirm ensure restart run rerun deploy redeploy roll rollback notify page post write
update review
test know respond assess escalate document don't dont do make monitor watch investigate look kill clear delete
increase decrease scale add remove rotate audit create open close ask call contact inform tell email send
follow wait stop start apply backup back restore list identify isolate fix upload download install configure
set enable
disable drain cordon uncordon mark merge tag revert reboot flush purge inspect read record log announce
communicate schedule plan prepare take use switch move copy sync validate approve participate reset upgrade
downgrade migrate vacuum reindex analyze rebuild renew revoke grant disconnect reconnect retry resolve
acknowledge ack hand handoff share compare collect gather capture export import find search pull push
promote demote failover fail provision terminate shut turn trigger rerun edit change keep leave avoid never
always go visit navigate login log in sign ssh connect attach detach mount unmount free tail grep query
"""
VERBS = frozenset(_VERBS.split())


@dataclass
class _Section:
    title: str
    path: tuple[str, ...]
    level: int
    line: int
    description: str = ""
    group: str = ""
    auto: bool = False
    steps: list[Step] = field(default_factory=list)


def _close(tokens: list[Token], start: int) -> int:
    """Index of the token closing the container opened at `start`."""
    level = tokens[start].level
    for j in range(start + 1, len(tokens)):
        if tokens[j].level == level and tokens[j].nesting == -1:
            return j
    return len(tokens) - 1


def plain(inline: Token) -> str:
    """The text of an inline token without markup."""
    parts: list[str] = []
    for child in inline.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "image":
            parts.append(child.content)
    return " ".join("".join(parts).split())


def _bold_label(inline: Token) -> str | None:
    """`**Checklist:**` -> "Checklist"; None if the paragraph is not only bold text."""
    kids = [c for c in inline.children or [] if not (c.type == "text" and not c.content.strip())]
    if len(kids) < 3 or kids[0].type not in ("strong_open", "em_open"):
        return None
    closing = "strong_close" if kids[0].type == "strong_open" else "em_close"
    ends = [i for i, c in enumerate(kids) if c.type == closing]
    if not ends:
        return None
    rest = kids[ends[-1] + 1 :]
    if any(not (c.type == "text" and c.content.strip() in (":", "")) for c in rest):
        return None
    return clean_title(plain(inline)) or None


def looks_like_action(raw: str, text: str) -> bool:
    """Does a bulleted item read as something to do ("Restart the API") rather than a fact?"""
    if _LABEL.match(raw):
        return False
    words = text.split()
    if not words:
        return False
    first = words[0].lower().strip(",:.;")
    if first in _CONDITIONAL and "," in text:
        after = text.split(",", 1)[1].split()
        first = after[0].lower().strip(",:.;") if after else ""
    return first in VERBS


def _front_matter(text: str) -> tuple[dict[str, Any], str, int]:
    if not text.startswith("---\n"):
        return {}, text, 0
    end = text.find("\n---", 4)
    if end < 0:
        return {}, text, 0
    try:
        data = yaml.safe_load(text[4:end])
    except yaml.YAMLError:
        return {}, text, 0
    if not isinstance(data, dict):
        return {}, text, 0
    rest_start = text.find("\n", end + 1)
    rest_start = len(text) if rest_start < 0 else rest_start + 1
    return data, text[rest_start:], text[:rest_start].count("\n")


class _Builder:
    def __init__(self, offset: int) -> None:
        self.offset = offset
        self.sections: list[_Section] = []
        self.stack: list[_Section] = []
        self.title = ""

    @property
    def current(self) -> _Section:
        if not self.sections:
            self.sections.append(_Section(title="", path=(), level=0, line=1))
        return self.sections[-1]

    def line(self, token: Token, extra: int = 0) -> int:
        return (token.map[0] if token.map else 0) + 1 + extra + self.offset

    def heading(self, token: Token, inline: Token, is_title: bool) -> None:
        level = int(token.tag[1:])
        title = clean_title(plain(inline))
        if is_title:
            self.title = title
            section = _Section(title=title, path=(title,), level=level, line=self.line(token))
            self.stack = []
        else:
            while self.stack and self.stack[-1].level >= level:
                self.stack.pop()
            path = (*(s.title for s in self.stack), title)
            section = _Section(title=title, path=path, level=level, line=self.line(token))
            self.stack.append(section)
        self.sections.append(section)

    def paragraph(self, inline: Token) -> None:
        section = self.current
        label = _bold_label(inline)
        if label is not None:
            section.group = label
            return
        lines = [line for line in inline.content.splitlines() if line.strip()]
        if lines and all(CHECKBOX.match(line) for line in lines):
            start = self.line(inline)
            for offset, line in enumerate(inline.content.splitlines()):
                step = _checkbox_step(line, section.group, start + offset)
                if step is not None:
                    section.steps.append(step)
            return
        if not section.description and not section.steps:
            section.description = plain(inline)

    def code(self, token: Token) -> None:
        section = self.current
        first = self.line(token, 1 if token.type == "fence" else 0)
        section.steps.extend(
            block_steps(token.info if token.type == "fence" else "", token.content, first, section.group)
        )

    def html(self, token: Token) -> None:
        for match in _DIRECTIVE.finditer(token.content):
            body = match.group(1).replace(":", "=")
            _, attrs = parse_info("{" + body + "}")
            if attrs.get("auto", "").lower() in {"true", "yes", "1", "on"}:
                self.current.auto = True

    def list_(self, tokens: list[Token]) -> None:
        section = self.current
        steps, _ = self._list_steps(tokens, section.group)
        section.steps.extend(steps)

    def _list_steps(self, tokens: list[Token], group: str) -> tuple[list[Step], list[str]]:
        """Steps of a list (if it is one of actions, or holds checkboxes or code), and its items' texts."""
        ordered = tokens[0].type == "ordered_list_open"
        base = tokens[0].level
        items: list[tuple[str, str, int, list[Step], list[str]]] = []
        k = 1
        while k < len(tokens) - 1:
            if tokens[k].type == "list_item_open" and tokens[k].level == base + 1:
                end = _close(tokens, k)
                items.append(self._item(tokens[k : end + 1], group))
                k = end + 1
            else:
                k += 1
        plain_items = [(raw, text) for raw, text, _, code, _ in items if not code and not CHECKBOX.match(raw)]
        actions = ordered or (
            bool(plain_items) and 2 * sum(looks_like_action(r, t) for r, t in plain_items) > len(plain_items)
        )
        steps: list[Step] = []
        texts: list[str] = []
        for raw, text, line, code, notes in items:
            texts.append(text)
            box = _checkbox_step(raw, group, line, title=text)
            if box is not None:
                steps.append(dc_replace(box, notes=tuple(notes)))
                steps.extend(code)
            elif any(s.actionable for s in code):
                steps.extend(code)
            elif code or actions:
                if text:
                    steps.append(Step(kind="manual", title=text, notes=tuple(notes), group=group, line=line))
                steps.extend(code)
        return steps, texts

    def _item(self, tokens: list[Token], group: str) -> tuple[str, str, int, list[Step], list[str]]:
        """(raw text, plain text, line, steps from its code and nested lists, notes) of one list item."""
        base = tokens[0].level
        raw = text = ""
        line = self.line(tokens[0])
        code: list[Step] = []
        notes: list[str] = []
        k = 1
        while k < len(tokens) - 1:
            tok = tokens[k]
            if tok.level != base + 1:
                k += 1
                continue
            if tok.type == "paragraph_open":
                inline = tokens[k + 1]
                if not raw and not text:
                    raw, text = inline.content, plain(inline)
                else:
                    notes.append(plain(inline))
                k += 3
            elif tok.type in ("fence", "code_block"):
                first = self.line(tok, 1 if tok.type == "fence" else 0)
                untitled = _strip_checkbox(text).rstrip(":").strip() if not code else ""
                code.extend(
                    block_steps(
                        tok.info if tok.type == "fence" else "",
                        tok.content,
                        first,
                        group,
                        default_title=untitled,
                    )
                )
                k += 1
            elif tok.type in ("bullet_list_open", "ordered_list_open"):
                end = _close(tokens, k)
                nested_steps, nested_texts = self._list_steps(tokens[k : end + 1], group)
                if any(s.kind in ("confirm", "shell", "sql") for s in nested_steps):
                    code.extend(nested_steps)
                else:
                    notes.extend(t for t in nested_texts if t)
                k = end + 1
            elif tok.nesting == 1:
                k = _close(tokens, k) + 1
            else:
                k += 1
        return raw, text, line, code, notes


def _strip_checkbox(text: str) -> str:
    m = CHECKBOX.match(text)
    return m.group("text").strip() if m else text


def _checkbox_step(raw: str, group: str, line: int, title: str | None = None) -> Step | None:
    m = CHECKBOX.match(raw)
    if not m:
        return None
    checked = (m.group("mark") or "").lower() == "x" or (m.group("glyph") or "") in CHECKED_GLYPHS
    shown = _strip_checkbox(title) if title else m.group("text").strip()
    return Step(kind="confirm", title=shown, group=group, checked=checked, line=line)


def _unique(base: str, used: set[str]) -> str:
    name = base
    n = 2
    while name in used:
        name = f"{base}-{n}"
        n += 1
    used.add(name)
    return name


def _procedure(section: _Section, used_slugs: set[str], auto: bool) -> Procedure:
    names: set[str] = set()
    steps: list[Step] = []
    for step in section.steps:
        base = step.name or slugify(step.title, 40)
        steps.append(dc_replace(step, name=_unique(base, names)))
    params = placeholders.merge(
        [placeholders.find(s.command, "shell" if s.kind == "shell" else "sql") for s in steps if s.runnable]
    )
    path = section.path or (section.title or "Untitled",)
    return Procedure(
        title=path[-1],
        path=path,
        slug=_unique(slugify(" ".join(path), 80), used_slugs),
        level=section.level,
        line=section.line,
        steps=tuple(steps),
        parameters=tuple(params),
        description=section.description,
        auto=auto or section.auto,
    )


def parse_runbook(text: str, source: str = "") -> Runbook:
    """Every procedure in a Markdown runbook, with its steps and parameters."""
    front, body, offset = _front_matter(text)
    body = repair_mojibake(body)
    tokens = _MD.parse(body)
    heading_idx = [i for i, t in enumerate(tokens) if t.type == "heading_open"]
    h1 = [i for i in heading_idx if tokens[i].tag == "h1"]
    title_idx = heading_idx[0] if heading_idx and h1 == [heading_idx[0]] else None
    builder = _Builder(offset)
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.type == "heading_open":
            builder.heading(tok, tokens[i + 1], i == title_idx)
            i += 3
        elif tok.type == "paragraph_open":
            builder.paragraph(tokens[i + 1])
            i += 3
        elif tok.type in ("bullet_list_open", "ordered_list_open"):
            end = _close(tokens, i)
            builder.list_(tokens[i : end + 1])
            i = end + 1
        elif tok.type in ("fence", "code_block"):
            builder.code(tok)
            i += 1
        elif tok.type == "html_block":
            builder.html(tok)
            i += 1
        elif tok.nesting == 1:
            i = _close(tokens, i) + 1
        else:
            i += 1
    runbook_auto = str(front.get("auto", "")).lower() in {"true", "1", "yes"}
    title = builder.title or str(front.get("title") or "")
    used: set[str] = set()
    procedures = tuple(
        _procedure(section, used, runbook_auto)
        for section in builder.sections
        if any(step.actionable for step in section.steps)
    )
    return Runbook(title=title, procedures=procedures, source=source, auto=runbook_auto)
