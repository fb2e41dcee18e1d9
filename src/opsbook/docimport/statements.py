"""A Markdown document → the statements it makes, each with its file, line and where it stands.

A statement is one thing a reader would point at: a list item, a table row, a line of a paragraph, a line
of a fenced block (a command, a `# comment`, a checklist line), a heading. Each carries the headings it
stands under (emoji and numbering stripped), the bold label it starts with (`**P0 (Critical):** …`), the
label-only paragraph above its block (`**Critical Alerts (P0):**` over a list), its table's header, its
number in an ordered list and the block it belongs to, so the recognisers can read it in context.
Parsing is markdown-it-py (CommonMark with GFM tables); nothing here raises on any text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from markdown_it import MarkdownIt
from markdown_it.token import Token

Kind = Literal["heading", "item", "row", "text", "command", "comment", "line"]

SHELL_LANGS = frozenset(
    {"bash", "sh", "shell", "console", "zsh", "shell-session", "powershell", "ps1", "cmd", "fish", "terminal"}
)
_LEAD_SYMBOLS = re.compile(r"^[^\w\"'(\[$]+")
_CHECKBOX = re.compile(r"^\s*(?:[☐☑☒✅✔✓❌□■]|\[[ xX]\]|[-*+]\s+\[[ xX]\])\s*")
_BULLET = re.compile(r"^\s*[-*+•]\s+")
_NUMBERED = re.compile(r"^\s*(\d{1,3})[.)]\s+")
_BOX = re.compile(r"[\u2500-\u257f]")
_LABEL_SEPARATOR = re.compile(r"^\s*(?::|[-–—]\s)\s*")


@dataclass(frozen=True)
class Statement:
    """One statement of a document and where it stands."""

    file: str
    line: int
    kind: Kind
    text: str
    """The statement's words: Markdown emphasis removed, the bold label removed (see `label`)."""
    source: str
    """The source line as written (stripped), for comments in the draft."""
    section: tuple[str, ...] = ()
    label: str = ""
    context: str = ""
    """The label-only paragraph (`**Warning Alerts (P1):**`) or plain lead-in line over this block."""
    header: tuple[str, ...] = ()
    cells: tuple[str, ...] = ()
    ordinal: int | None = None
    parent: str = ""
    """For a nested list item: the text of the item it is nested in."""
    block: int = 0
    lang: str = ""

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def full(self) -> str:
        """Label and text together, as a reader would say it."""
        return f"{self.label}: {self.text}" if self.label and self.text else (self.label or self.text)

    @property
    def code(self) -> list[str]:
        """The inline code spans of the statement's line (`curl -f …` in a table cell)."""
        return re.findall(r"`([^`\n]+)`", self.source)

    def heading(self) -> str:
        return self.section[-1] if self.section else ""


@dataclass
class _State:
    file: str
    lines: list[str]
    out: list[Statement] = field(default_factory=list)
    headings: list[tuple[int, str]] = field(default_factory=list)
    context: str = ""
    block: int = 0
    lists: list[tuple[bool, str]] = field(default_factory=list)
    """Open lists, innermost last: (ordered, the text of the item the list is nested in)."""
    last_item: str = ""
    header: tuple[str, ...] = ()

    @property
    def section(self) -> tuple[str, ...]:
        return tuple(title for _, title in self.headings)

    def source(self, line: int) -> str:
        return self.lines[line - 1].strip() if 0 < line <= len(self.lines) else ""


_PARSER = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def read(text: str, file: str) -> list[Statement]:
    """Every statement of the document, in order."""
    text = without_front_matter(text)
    state = _State(file=file, lines=text.split("\n"))
    try:
        tokens = _PARSER.parse(text)
    except RecursionError:  # pathological nesting: read it as plain lines instead
        return _plain(state)
    _walk(tokens, state)
    return state.out


def without_front_matter(text: str) -> str:
    """YAML front matter (`---` … `---` at the top) blanked, its lines kept so the others keep theirs."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return text
    for end in range(1, min(len(lines), 60)):
        if lines[end].strip() in ("---", "..."):
            return "\n" * end + "\n" + "\n".join(lines[end + 1 :])
    return text


def _plain(state: _State) -> list[Statement]:
    return [
        Statement(state.file, i, "text", line.strip(), line.strip())
        for i, line in enumerate(state.lines, 1)
        if line.strip()
    ]


def clean_title(title: str) -> str:
    """A heading's words: leading emoji, symbols and numbering removed."""
    text = _LEAD_SYMBOLS.sub("", title.strip()).strip()
    text = re.sub(r"^\d+(\.\d+)*[.)]?\s+", "", text)
    return text.strip().rstrip("#").strip()


def _walk(tokens: list[Token], state: _State) -> None:
    i = 0
    while i < len(tokens):
        token = tokens[i]
        kind = token.type
        if kind == "heading_open":
            i = _heading(tokens, i, state)
            continue
        if kind in ("bullet_list_open", "ordered_list_open"):
            if not state.lists:
                state.block += 1
            parent = state.last_item if state.lists else ""
            state.lists.append((kind == "ordered_list_open", parent))
        elif kind in ("bullet_list_close", "ordered_list_close"):
            if state.lists:
                state.lists.pop()
        elif kind == "list_item_open":
            i = _list_item(tokens, i, state)
            continue
        elif kind == "table_open":
            state.block += 1
            state.header = ()
        elif kind == "tr_open":
            i = _row(tokens, i, state)
            continue
        elif kind == "paragraph_open" and not state.lists:
            i = _paragraph(tokens, i, state)
            continue
        elif kind in ("fence", "code_block"):
            state.block += 1
            _fence(token, state)
        i += 1


def _heading(tokens: list[Token], i: int, state: _State) -> int:
    level = int(tokens[i].tag[1:]) if tokens[i].tag[1:].isdigit() else 6
    line = (tokens[i].map or [0])[0] + 1
    inline = tokens[i + 1] if i + 1 < len(tokens) else None
    title = clean_title(_flatten(inline)[0] if inline is not None else "")
    while state.headings and state.headings[-1][0] >= level:
        state.headings.pop()
    state.headings.append((level, title))
    state.context = ""
    state.block += 1
    state.out.append(
        Statement(state.file, line, "heading", title, state.source(line), state.section, block=state.block)
    )
    return i + 3


def _inline_after(tokens: list[Token], i: int, stop: str) -> tuple[Token | None, int]:
    """The first inline token after i and before a `stop` token, and the index of that stop token."""
    found = None
    j = i + 1
    while j < len(tokens) and tokens[j].type != stop:
        if tokens[j].type == "inline" and found is None:
            found = tokens[j]
        j += 1
    return found, j


def _list_item(tokens: list[Token], i: int, state: _State) -> int:
    token = tokens[i]
    ordered = bool(state.lists and state.lists[-1][0])
    ordinal = int(token.info) if ordered and token.info.isdigit() else None
    # only the item's own first paragraph: nested lists are items of their own
    j = i + 1
    inline = None
    if j < len(tokens) and tokens[j].type == "paragraph_open" and j + 1 < len(tokens):
        inline = tokens[j + 1]
    if inline is not None:
        base = (inline.map or token.map or [0])[0] + 1
        parent = state.lists[-1][1] if state.lists else ""
        first = True
        for offset, (text, label) in enumerate(_lines(inline)):
            if not text and not label:
                continue
            line = base + offset
            clean = _CHECKBOX.sub("", text) if not label else text
            state.out.append(
                Statement(
                    state.file,
                    line,
                    "item" if first else "text",
                    clean.strip(),
                    state.source(line),
                    state.section,
                    label,
                    state.context,
                    ordinal=ordinal if first else None,
                    parent=parent,
                    block=state.block,
                )
            )
            if first:
                state.last_item = (f"{label}: {clean}" if label else clean).strip()
            first = False
    return i + 1 if inline is None else j + 3


def _row(tokens: list[Token], i: int, state: _State) -> int:
    line = (tokens[i].map or [0])[0] + 1
    cells: list[str] = []
    j = i + 1
    while j < len(tokens) and tokens[j].type != "tr_close":
        if tokens[j].type == "inline":
            cells.append(" ".join(_flatten(tokens[j])[0].split()))
        j += 1
    in_head = i > 0 and tokens[i - 1].type == "thead_open"
    if in_head:
        state.header = tuple(cells)
        state.out.append(
            Statement(
                state.file,
                line,
                "row",
                " | ".join(cells),
                state.source(line),
                state.section,
                context=state.context,
                header=tuple(cells),
                cells=(),
                block=state.block,
            )
        )
    else:
        text = " | ".join(c for c in cells if c)
        state.out.append(
            Statement(
                state.file,
                line,
                "row",
                text,
                state.source(line),
                state.section,
                context=state.context,
                header=state.header,
                cells=tuple(cells),
                block=state.block,
            )
        )
    return j + 1


def _paragraph(tokens: list[Token], i: int, state: _State) -> int:
    inline, close = _inline_after(tokens, i, "paragraph_close")
    if inline is None:
        return close + 1
    state.block += 1
    base = (inline.map or tokens[i].map or [0])[0] + 1
    lines = _lines(inline)
    for offset, (text, label) in enumerate(lines):
        if not text and not label:
            continue
        line = base + offset
        state.out.append(
            Statement(
                state.file,
                line,
                "text",
                text,
                state.source(line),
                state.section,
                label,
                state.context,
                block=state.block,
            )
        )
    if len(lines) == 1:
        text, label = lines[0]
        if label and not text:
            state.context = label
        elif text.rstrip().endswith(":") and len(text) < 200:
            state.context = text.rstrip().rstrip(":").strip()
    return close + 1


def _fence(token: Token, state: _State) -> None:
    lang = (token.info or "").strip().split(" ")[0].lower().strip("{}.")
    start = (token.map or [0])[0] + (2 if token.type == "fence" else 1)
    raw = token.content.split("\n")
    shell = lang in SHELL_LANGS
    i = 0
    while i < len(raw):
        text = raw[i].strip()
        line = start + i
        if not text or not re.search(r"\w", text) or _BOX.search(text):
            i += 1  # blank, arrows only, or a box-drawing diagram
            continue
        if shell and text.startswith("#"):
            state.out.append(
                Statement(
                    state.file,
                    line,
                    "comment",
                    text.lstrip("#").strip(),
                    state.source(line),
                    state.section,
                    context=state.context,
                    block=state.block,
                    lang=lang,
                )
            )
            i += 1
            continue
        if shell:
            command, used = _command(raw, i)
            state.out.append(
                Statement(
                    state.file,
                    line,
                    "command",
                    command.lstrip("$ ").strip(),
                    state.source(line),
                    state.section,
                    context=state.context,
                    block=state.block,
                    lang=lang,
                )
            )
            i += used
            continue
        number = _NUMBERED.match(text)
        label, words = plain_label(_CHECKBOX.sub("", _BULLET.sub("", _NUMBERED.sub("", text))))
        state.out.append(
            Statement(
                state.file,
                line,
                "line",
                words.strip(),
                state.source(line),
                state.section,
                label,
                context=state.context,
                ordinal=int(number.group(1)) if number else None,
                block=state.block,
                lang=lang,
            )
        )
        i += 1


def _command(raw: list[str], i: int) -> tuple[str, int]:
    """A command starting at raw[i], with its continuation lines (`\\` ends, an open quote); lines used."""
    parts: list[str] = []
    j = i
    while j < len(raw):
        line = raw[j].rstrip()
        parts.append(line.rstrip("\\").strip())
        j += 1
        joined = " ".join(parts)
        if line.endswith("\\") or _open_quote(joined):
            continue
        break
    return " ".join(p for p in parts if p), max(1, j - i)


def _open_quote(text: str) -> bool:
    quote = ""
    escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\" and quote != "'":
            escaped = True
        elif quote:
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
    return bool(quote)


def _lines(inline: Token) -> list[tuple[str, str]]:
    """Each source line of an inline token as (text, bold label)."""
    text, labels = _flatten(inline, with_labels=True)
    out: list[tuple[str, str]] = []
    for index, line in enumerate(text.split("\n")):
        label = labels.get(index, "")
        body = line
        if label:
            body = _LABEL_SEPARATOR.sub("", line.split("\x01", 1)[1] if "\x01" in line else line)
        else:
            label, body = plain_label(line)
        out.append((" ".join(body.replace("\x01", "").split()), label))
    return out


_PLAIN_LABEL = re.compile(r"^\W{0,3}?([A-Z][\w /&()'-]{0,38}?)\s*:\s+(\S.*)$")


def plain_label(line: str) -> tuple[str, str]:
    """'People: Dana, Eli' → ('People', 'Dana, Eli'): a label written without bold; else ('', line)."""
    match = _PLAIN_LABEL.match(line.strip())
    if not match or "://" in line[: match.end(1) + 3]:
        return "", line
    return match.group(1).strip(), match.group(2)


def _flatten(inline: Token | None, with_labels: bool = False) -> tuple[str, dict[int, str]]:
    """An inline token's text; with labels, each line's leading bold label (`**Label:**`), the end of
    which is marked with \\x01 in the text."""
    if inline is None:
        return "", {}
    parts: list[str] = []
    labels: dict[int, str] = {}
    line = 0
    strong: list[str] | None = None
    line_start = True
    for child in inline.children or []:
        kind = child.type
        if kind in ("softbreak", "hardbreak"):
            parts.append("\n")
            line += 1
            line_start = True
            continue
        if kind == "strong_open" and with_labels and line_start:
            strong = []
            continue
        if kind == "strong_close" and strong is not None:
            label = "".join(strong).strip()
            parts.append(label)
            if _is_label(label, inline, child):
                labels[line] = label.rstrip(":").strip()
                parts.append("\x01")
            strong = None
            line_start = False
            continue
        piece = _piece(child)
        if strong is not None:
            strong.append(piece)
            continue
        if re.search(r"\w", piece):
            line_start = False  # emoji and bullets before a bold label leave it a label
        parts.append(piece)
    if strong is not None:
        parts.extend(strong)
    return "".join(parts), labels


def _is_label(label: str, inline: Token, close: Token) -> bool:
    """A bold lead is a label if it ends with a colon, or a colon or dash follows it, or nothing does."""
    if label.endswith(":"):
        return True
    children = inline.children or []
    index = next((k for k, c in enumerate(children) if c is close), -1)
    following = "".join(_piece(c) for c in children[index + 1 : index + 3]) if index >= 0 else ""
    following = following.split("\n")[0]
    return not following.strip() or bool(_LABEL_SEPARATOR.match(following))


def _piece(child: Token) -> str:
    if child.type in ("text", "code_inline"):
        return child.content
    if child.type == "html_inline":
        return " "  # <br>, <b>: a tag separates words
    if child.type == "image":
        return child.content or ""
    return ""
