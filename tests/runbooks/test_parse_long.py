"""Long runbooks are parsed in pieces, in time and memory that grow linearly, with the same result as
parsing them whole (the cuts are checked, and undone when a block runs on across one)."""

from __future__ import annotations

import gc
import random
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from markdown_it.token import Token

from opsbook.runbooks import parse
from opsbook.runbooks.parse import parse_runbook

DATA = Path(__file__).resolve().parent / "data"
FRAGMENTS = (
    "# Top\n", "## Sub\n", "### Deep\n", "#\n", "#nospace\n", "   # indented\n", "\n", "\n\n", "\n# H\n",
    "\n# H\n", "\n## S\n- [ ] a\n", "- [ ] check it\n", "1. restart api\n", "   ```sh\n", "```sh\n", "```\n",
    "~~~\n", "````\n", "``` `x`\n", "echo <id>\n", "# comment in code\n", "\n# comment\n",
    "1. Run:\n   ```sh\n", "   ```\n", "<!-- opsbook: auto=true -->\n", "<!--\n", "-->\n", "<pre>\n",
    "</pre>\n", "<script>\n", "</script>\n", "<?php\n", "?>\n", "<div>\n", "</div>\n", "> quoted\n",
    "| a | b |\n|---|---|\n| 1 | 2 |\n", "**Checklist:**\n", "**Label:**&nbsp;\n", "Title\n=====\n",
    "    indented code\n", "- item\n  ```bash\n  ls\n  ```\n", "Restart the database\n", "* run backup\n",
    "*em* text\n", "- **Step:** do it\n", "- [x] done &amp; dusted\n", "[link](http://x) restart\n",
)


def _whole(text: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    with monkeypatch.context() as m:
        m.setattr(parse, "_cuts", lambda lines: iter(()))
        return parse_runbook(text).to_dict()


def _documents() -> Iterator[str]:
    for path in sorted(DATA.rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        yield text
        yield text * 3
    rnd = random.Random(20260301)
    for _ in range(1500):
        yield "".join(rnd.choice(FRAGMENTS) for _ in range(rnd.randint(1, 80)))


def test_pieces_give_what_the_whole_document_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parse, "CHUNK_LINES", 3)
    undone: list[bool] = []
    real_open_at_end = parse._open_at_end

    def noted(tokens: list[Token], lines: int) -> bool:
        undone.append(real_open_at_end(tokens, lines))
        return undone[-1]

    monkeypatch.setattr(parse, "_open_at_end", noted)
    cut = 0
    for text in _documents():
        cut += bool(list(parse._cuts(text.split("\n"))))
        assert parse_runbook(text).to_dict() == _whole(text, monkeypatch), text
    assert cut > 400 and sum(undone) > 50  # the cuts were tried, and undone where a block ran on


def test_a_lone_title_and_forward_links_across_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parse, "CHUNK_LINES", 3)
    sections = "".join(f"## Fix {i}\n\n1. restart api {i}, see [the docs]\n\n" for i in range(5))
    links = "[the docs]: https://docs.example/api\n"
    one_title = f"# Ops\n\n{sections}{links}"
    runbook = parse_runbook(one_title)
    assert runbook.title == "Ops" and [p.path for p in runbook.procedures][:2] == [("Fix 0",), ("Fix 1",)]
    assert runbook.procedures[4].steps[0].title == "restart api 4, see the docs"
    assert runbook.to_dict() == _whole(one_title, monkeypatch)
    two_titles = f"# Ops\n\n{sections}# More\n\n{sections}{links}"
    runbook = parse_runbook(two_titles)
    assert runbook.title == "" and runbook.procedures[0].path == ("Ops", "Fix 0")
    assert runbook.procedures[5].path == ("More", "Fix 0")
    assert runbook.to_dict() == _whole(two_titles, monkeypatch)


def _sections(n: int) -> str:
    return "# Ops\n\n" + "".join(
        f"## Fix {i}\n\nWhen it breaks:\n\n1. restart api {i}\n2. check logs\n\n"
        f"```sh\nsystemctl restart api{i}\n```\n\n" for i in range(n))


def _cpu_seconds(text: str) -> float:
    """The least CPU time of two parses, the garbage collector held (it walks every object of the test
    session, whose size is not the parser's doing)."""
    gc.collect()
    gc.disable()
    try:
        times = []
        for _ in range(2):
            started = time.process_time()
            parse_runbook(text)
            times.append(time.process_time() - started)
        return min(times)
    finally:
        gc.enable()


def _peak_bytes(text: str) -> int:
    tracemalloc.start()
    try:
        parse_runbook(text)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_time_grows_linearly_and_memory_holds_one_piece(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parse, "CHUNK_LINES", 1000)
    small, large = _sections(300), _sections(1200)
    assert len(parse_runbook(large).procedures) == 1200
    cpu1, cpu4 = _cpu_seconds(small), _cpu_seconds(large)
    assert cpu4 < 8 * cpu1, (cpu1, cpu4)  # 4x the text: about 4x the time (quadratic would be 16x)
    in_pieces = _peak_bytes(large)
    monkeypatch.setattr(parse, "_cuts", lambda lines: iter(()))
    whole = _peak_bytes(large)
    assert in_pieces < whole / 2, (in_pieces, whole)  # the tokens of one piece at a time
