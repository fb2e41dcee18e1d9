r"""Markdown runbook -> procedures and steps (pure: text in, plain data out; no I/O, no clock).

- Every heading with actionable steps under it (before the next heading) is a procedure; its parent
  headings give its path ("Troubleshooting \u203a API Not Responding"). A lone top-level `#` heading is the
  document's title, not part of the paths. Headings are cleaned of emoji, mangled glyphs and quotes.
- Checklist items (`- [ ]`, `- [x]`, `☐` lines, also when the encoding was mangled) are confirm steps.
- Ordered lists, and bulleted lists whose items read as actions, are manual steps.
- Fenced and indented code blocks (also inside list items) are command or reference steps (blocks.py).
- A paragraph that is only bold text (`**Checklist:**`) labels the steps after it (their `group`).
- `<!-- opsbook: auto=true -->` in a section, or `auto: true` in front matter, allows unattended runs.
- A procedure's parameters are what its commands need, but not a `$VAR` an earlier step sets.

Time and memory grow linearly with the document: a long one is parsed in pieces of at least
`CHUNK_LINES` lines, cut before top-level `#` headings (so the tokens of one piece are alive at a time),
and gives the same procedures as parsed whole (see `_pieces`).

`decode` turns a file's bytes into the text parsed: UTF-8 (with or without a byte-order mark), or UTF-16 /
UTF-32 with their byte-order mark; binary and other encodings are refused with `RunbookUnreadable`.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from dataclasses import replace as dc_replace
from typing import Any

import yaml
from markdown_it import MarkdownIt
from markdown_it.common.utils import normalizeReference
from markdown_it.token import Token

from opsbook.errors import Invalid
from opsbook.runbooks import placeholders
from opsbook.runbooks.blocks import CHECKBOX, CHECKED_GLYPHS, block_steps, parse_info
from opsbook.runbooks.document import Parameter, Procedure, Runbook, Step
from opsbook.runbooks.text import clean_title, repair_mojibake, slugify, unique

_MD = MarkdownIt("commonmark").enable("table")
_BLOCKS = MarkdownIt("commonmark").enable("table").disable(["inline", "text_join"])
"""Block structure only: the inline content of a heading, paragraph or list item is parsed when it is read
(`_Builder.children`), never for the table cells and quotes skipped, and not kept."""
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

CHUNK_LINES = 5000
"""A document is cut into pieces of at least this many lines (shorter ones are parsed whole)."""
_LINE_BREAK = re.compile(r"\r\n?")
_CUT_BEFORE = re.compile(r"#{1,6}(?:[ \t]|$)")
_FENCE_OPEN = re.compile(r" {0,3}(?P<fence>`{3,}|~{3,})(?P<info>.*)")
_FENCE_CLOSE = re.compile(r" {0,3}(?P<fence>`{3,}|~{3,})[ \t]*")
_HTML_OPEN = re.compile(
    r" {0,3}<(?P<tag>!--|\?|!\[CDATA\[|![A-Za-z]|(?:script|pre|style|textarea)(?=[\s>]|$))", re.I)
_HTML_CLOSE = {"!--": "-->", "?": "?>", "![cdata[": "]]>"}
_REFERENCE = re.compile(r" {0,3}\[(?P<label>(?:[^\[\]\\]|\\.){1,999})\]:")
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


class RunbookUnreadable(Invalid):
    """A runbook file that is not text opsbook can read (binary, or not UTF-8 / UTF-16 / UTF-32)."""


def decode(data: bytes, source: str = "") -> str:
    """The text of a runbook file: UTF-8, or any UTF with a byte-order mark; raises RunbookUnreadable."""
    where = f"{source}: " if source else ""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise RunbookUnreadable(f"{where}not valid {encoding.upper()} ({exc.reason})") from None
    if b"\0" in data:
        raise RunbookUnreadable(
            f"{where}a binary file, not Markdown (or UTF-16 without a byte-order mark: save it as UTF-8)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        byte = data[exc.start]
        problem = f"not UTF-8 text (byte 0x{byte:02x} on line {line}): save it as UTF-8"
        raise RunbookUnreadable(where + problem) from None


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


def plain(children: list[Token]) -> str:
    """The text of an inline token's children without markup."""
    parts: list[str] = []
    for child in children:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "image":
            parts.append(child.content)
    return " ".join("".join(parts).split())


def _bold_label(children: list[Token]) -> str | None:
    """`**Checklist:**` -> "Checklist"; None if the paragraph is not only bold text."""
    kids = [c for c in children if not (c.type == "text" and not c.content.strip())]
    if len(kids) < 3 or kids[0].type not in ("strong_open", "em_open"):
        return None
    closing = "strong_close" if kids[0].type == "strong_open" else "em_close"
    ends = [i for i, c in enumerate(kids) if c.type == closing]
    if not ends:
        return None
    rest = kids[ends[-1] + 1 :]
    if any(not (c.type == "text" and c.content.strip() in (":", "")) for c in rest):
        return None
    return clean_title(plain(children)) or None


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
    """Turns the tokens of a document, fed piece by piece, into its sections."""

    def __init__(self, offset: int) -> None:
        self.front_lines = offset
        self.offset = offset
        self.sections: list[_Section] = []
        self.stack: list[_Section] = []
        self.title = ""
        self.headings = 0  # heading tokens seen, at any depth
        self.h1s = 0
        self.title_scope: tuple[int, int | None] | None = None  # sections under the title: [start, end)
        self.env: dict[str, Any] = {}

    def children(self, inline: Token) -> list[Token]:
        """The inline tokens of a heading, paragraph or list item (parsed now, with the piece's links)."""
        return _MD.parseInline(inline.content, self.env)[0].children or []

    def feed(self, tokens: list[Token], first_line: int, env: dict[str, Any]) -> None:
        """The top-level blocks of one piece, whose first line is line `first_line` of the body."""
        self.offset = self.front_lines + first_line
        self.env = env
        heading_idx = [i for i, t in enumerate(tokens) if t.type == "heading_open"]
        first = heading_idx[0] if heading_idx and not self.headings else None
        title_idx = first if first is not None and tokens[first].tag == "h1" else None
        self.headings += len(heading_idx)
        self.h1s += sum(tokens[i].tag == "h1" for i in heading_idx)
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            if tok.type == "heading_open":
                self.heading(tok, tokens[i + 1], i == title_idx)
                i += 3
            elif tok.type == "paragraph_open":
                self.paragraph(tokens[i + 1])
                i += 3
            elif tok.type in ("bullet_list_open", "ordered_list_open"):
                end = _close(tokens, i)
                self.list_(tokens[i : end + 1])
                i = end + 1
            elif tok.type in ("fence", "code_block"):
                self.code(tok)
                i += 1
            elif tok.type == "html_block":
                self.html(tok)
                i += 1
            elif tok.nesting == 1:
                i = _close(tokens, i) + 1
            else:
                i += 1

    def finish(self) -> None:
        """A lone `#` heading first is the title, left out of paths; with another `#` heading anywhere it is
        an ordinary heading after all, and the paths under it get it back."""
        if self.title_scope is None or self.h1s == 1:
            return
        start, end = self.title_scope
        for section in self.sections[start:end]:
            section.path = (self.title, *section.path)
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
        title = clean_title(plain(self.children(inline)))
        if is_title:
            self.title = title
            section = _Section(title=title, path=(title,), level=level, line=self.line(token))
            self.stack = []
            self.title_scope = (len(self.sections) + 1, None)
        else:
            if level == 1 and self.title_scope is not None and self.title_scope[1] is None:
                self.title_scope = (self.title_scope[0], len(self.sections))
            while self.stack and self.stack[-1].level >= level:
                self.stack.pop()
            path = (*(s.title for s in self.stack), title)
            section = _Section(title=title, path=path, level=level, line=self.line(token))
            self.stack.append(section)
        self.sections.append(section)

    def paragraph(self, inline: Token) -> None:
        section = self.current
        label = _bold_label(self.children(inline)) if inline.content.startswith(("*", "_")) else None
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
            section.description = plain(self.children(inline))

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
                    raw, text = inline.content, plain(self.children(inline))
                else:
                    notes.append(plain(self.children(inline)))
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


def _parameters(steps: list[Step]) -> list[Parameter]:
    """The parameters the steps' commands need, but not a `$VAR` an earlier shell step sets (a run is one
    terminal session: the variable carries)."""
    groups: list[list[Parameter]] = []
    set_before: set[str] = set()
    for step in steps:
        if not step.runnable:
            continue
        found = placeholders.find(step.command, "shell" if step.kind == "shell" else "sql")
        groups.append([p for p in found if not (p.kind == "env" and p.name in set_before)])
        if step.kind == "shell":
            set_before |= placeholders.assigned(step.command)
    return placeholders.merge(groups)


def _procedure(section: _Section, used_slugs: set[str], auto: bool) -> Procedure:
    names: set[str] = set()
    steps: list[Step] = []
    for step in section.steps:
        base = step.name or slugify(step.title, 40)
        steps.append(dc_replace(step, name=unique(base, names)))
    params = _parameters(steps)
    path = section.path or (section.title or "Untitled",)
    return Procedure(
        title=path[-1],
        path=path,
        slug=unique(slugify(" ".join(path), 80), used_slugs),
        level=section.level,
        line=section.line,
        steps=tuple(steps),
        parameters=tuple(params),
        description=section.description,
        auto=auto or section.auto,
    )


def _references(lines: list[str]) -> dict[str, dict[str, Any]]:
    """Link reference labels (`[label]: url` on a line of its own after a blank line, a heading or another
    one), so that a piece sees those defined further down."""
    refs: dict[str, dict[str, Any]] = {}
    may_start = True
    for line in lines:
        match = _REFERENCE.match(line)
        if match and may_start and (label := normalizeReference(match["label"])):
            refs.setdefault(label, {"href": "", "title": ""})
        may_start = not line.strip() or bool(match) or bool(_CUT_BEFORE.match(line.lstrip(" ")))
    return refs


def _is_fence(opened: re.Match[str]) -> bool:
    """A backtick fence's info string has no backtick (else the line is text with inline code)."""
    return not (opened["fence"][0] == "`" and "`" in opened["info"])


def _cuts(lines: list[str]) -> Iterator[int]:
    """Lines before which the document may be cut: a top-level `#` heading after a blank line, outside
    fenced code and HTML blocks, at least CHUNK_LINES after the previous cut. (`_pieces` checks each.)"""
    fence: tuple[str, int] | None = None
    html_end = ""
    blank_before = True
    last = 0
    for i, line in enumerate(lines):
        if fence is not None:
            close = _FENCE_CLOSE.fullmatch(line)
            if close and close["fence"][0] == fence[0] and len(close["fence"]) >= fence[1]:
                fence = None
        elif html_end:
            if html_end in line.lower():
                html_end = ""
        elif (opened := _FENCE_OPEN.fullmatch(line)) and _is_fence(opened):
            fence = (opened["fence"][0], len(opened["fence"]))
        elif html := _HTML_OPEN.match(line):
            tag = html["tag"].lower()
            end = _HTML_CLOSE.get(tag) or (">" if tag.startswith("!") else f"</{tag}>")
            html_end = "" if end in line[html.end() :].lower() else end
        elif blank_before and i - last >= CHUNK_LINES and _CUT_BEFORE.match(line):
            last = i
            yield i
        blank_before = not line.strip()


def _open_at_end(tokens: list[Token], lines: int) -> bool:
    """Did a top-level fenced code or HTML block run to the end of a piece of `lines` lines (each ended by
    a newline, the last blank), so that it goes on after it?"""
    return any(t.level == 0 and t.type in ("fence", "html_block") and t.map and t.map[1] >= lines
               for t in tokens)


def _pieces(body: str) -> Iterator[tuple[list[Token], int, dict[str, Any]]]:
    """The block tokens of `body` piece by piece, each with the index of its first line and the markdown-it
    environment its inline content is parsed with.

    A cut is kept only if the piece before it ends at the top level, as it does in the whole document;
    when a block is still open there (a fence the scan took for closed), the rest is parsed in one piece.
    Every piece knows the link reference labels of the whole document (`_references`)."""
    lines = body.split("\n")
    cuts = list(_cuts(lines))
    env: dict[str, Any] = {"references": _references(lines)} if cuts else {}
    start = 0
    for end in cuts:
        tokens = _BLOCKS.parse("\n".join(lines[start:end]) + "\n", env)
        if _open_at_end(tokens, end - start):
            break
        yield tokens, start, env
        start = end
    yield _BLOCKS.parse("\n".join(lines[start:]), env), start, env


def parse_runbook(text: str, source: str = "") -> Runbook:
    """Every procedure in a Markdown runbook, with its steps and parameters."""
    front, body, offset = _front_matter(text)
    body = _LINE_BREAK.sub("\n", repair_mojibake(body))
    builder = _Builder(offset)
    for tokens, first_line, env in _pieces(body):
        builder.feed(tokens, first_line, env)
    builder.finish()
    runbook_auto = str(front.get("auto", "")).lower() in {"true", "1", "yes"}
    title = builder.title or str(front.get("title") or "")
    used: set[str] = set()
    procedures = tuple(
        _procedure(section, used, runbook_auto)
        for section in builder.sections
        if any(step.actionable for step in section.steps)
    )
    return Runbook(title=title, procedures=procedures, source=source, auto=runbook_auto)
