"""Bytes of a document → its text: the encoding told by a byte-order mark or UTF-8, CRLF and lone CR
made LF, and mojibake repaired.

Mojibake is UTF-8 read in a legacy 8-bit encoding ("ðŸ“‹" for 📋 through Windows-1252, "‚òê" for ☐
through Mac Roman). ftfy repairs most of it; what it leaves (Mac Roman with the Apple logo for byte 0xF0
is common: text copied through old Mac tools) is repaired here the way ftfy does it: each run of non-ASCII
characters is encoded back in a legacy encoding and accepted only if the bytes are strict UTF-8 and the
text gets shorter. Genuine accented text never passes that test (its bytes are not UTF-8 sequences).
Repairing never changes the number of lines, so every statement keeps its line.
"""

from __future__ import annotations

import codecs
import re

import ftfy

_LEGACY = ("cp1252", "mac_roman", "latin-1")
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")
_LONGEST_RUN = 96
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
"""Control characters and lone surrogates: left over after repair, they mean nothing in a document."""
_CONFIG = ftfy.TextFixerConfig(
    unescape_html=False,
    uncurl_quotes=False,
    fix_latin_ligatures=False,
    fix_character_width=False,
    fix_line_breaks=False,
    normalization=None,
    explain=False,
)


def decode(data: bytes) -> str:
    """The document's text, LF line ends, mojibake repaired; undecodable bytes become U+FFFD."""
    for bom, name in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            return repair(data.decode(name, errors="replace"))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")  # a legacy file: its bytes are its characters
    return repair(text)


def repair(text: str) -> str:
    """Line ends made LF and mojibake undone, line by line (the line count never changes)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    lines = text.split("\n")
    return _CONTROL.sub("", "\n".join(_repair_line(line) for line in lines))


def _repair_line(line: str) -> str:
    if line.isascii():
        return line
    fixed = ftfy.fix_text(line, _CONFIG)
    if fixed.count("\n") != line.count("\n"):
        fixed = line
    return _NON_ASCII_RUN.sub(lambda m: _repair_run(m.group(0)), fixed)


def _repair_run(run: str) -> str:
    """Left to right, the longest piece that is mojibake in some legacy encoding is decoded."""
    out: list[str] = []
    i = 0
    while i < len(run):
        found = None
        for j in range(min(len(run), i + _LONGEST_RUN), i + 1, -1):
            found = _undo(run[i:j])
            if found is not None:
                out.append(found)
                i = j
                break
        if found is None:
            out.append(run[i])
            i += 1
    return "".join(out)


def _undo(piece: str) -> str | None:
    for encoding in _LEGACY:
        try:
            decoded = piece.encode(encoding).decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
        if len(decoded) < len(piece):
            return decoded
    return None
