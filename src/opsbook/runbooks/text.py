r"""Text clean-up for runbooks: undo mangled encodings, clean headings into names, make slugs.

Runbooks are often copied through tools that read UTF-8 as Mac Roman or Windows-1252, so a check box
(U+2610) arrives as `\u201a\u00f2\u00ea` (or twice mangled) and emoji as three or four odd letters.
A run of non-ASCII characters that re-encodes to valid UTF-8 is such a mangling, and is replaced
by what it was.
"""

from __future__ import annotations

import re
import unicodedata

_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_QUOTES = "\"'`\u201c\u201d\u2018\u2019\u00ab\u00bb"
_DROP_CATEGORIES = {"So", "Sk", "Cs", "Co", "Cf", "Cn"}


def _cp1252_bytes(text: str) -> bytes:
    """Like text.encode('cp1252'), also passing through the five bytes cp1252 leaves undefined."""
    out = bytearray()
    for ch in text:
        try:
            out += ch.encode("cp1252")
        except UnicodeEncodeError:
            if 0x80 <= ord(ch) <= 0x9F:
                out.append(ord(ch))
            else:
                raise
    return bytes(out)


def _repair_run(run: str) -> str:
    for encode in (lambda s: s.encode("mac_roman"), _cp1252_bytes):
        try:
            fixed = encode(run).decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
        if fixed != run:
            return fixed
    return run


def repair_mojibake(text: str) -> str:
    """Undo UTF-8 read as Mac Roman or cp1252 (up to three times over); other text is left as is."""
    for _ in range(3):
        fixed = _NON_ASCII.sub(lambda m: _repair_run(m.group(0)), text)
        if fixed == text:
            break
        text = fixed
    return text


def clean_title(text: str) -> str:
    """A heading as a name: no emoji or symbols, no surrounding quotes or trailing colon, single spaces."""
    text = repair_mojibake(text)
    kept = "".join(
        ch
        for ch in text
        if unicodedata.category(ch) not in _DROP_CATEGORIES and not 0xFE00 <= ord(ch) <= 0xFE0F
    )
    kept = " ".join(kept.split()).strip()
    kept = kept.rstrip(":").strip()
    while len(kept) >= 2 and kept[0] in _QUOTES and kept[-1] in _QUOTES:
        kept = kept[1:-1].strip()
    return kept


def slugify(text: str, limit: int = 60) -> str:
    """`Restore from "backup" (staging)` -> `restore-from-backup-staging`."""
    norm = unicodedata.normalize("NFKD", text)
    ascii_text = norm.encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > limit:
        slug = slug[:limit].rsplit("-", 1)[0] or slug[:limit]
    return slug or "step"


def shorten(text: str, limit: int = 72) -> str:
    """One line, at most `limit` characters."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def unique(base: str, used: set[str]) -> str:
    """`base`, or `base-2`, `base-3`... the first not in `used` (which it is added to)."""
    name = base
    n = 2
    while name in used:
        name = f"{base}-{n}"
        n += 1
    used.add(name)
    return name
