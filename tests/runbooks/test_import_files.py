"""What a runbook file may be: UTF-8 (with or without a byte-order mark), UTF-16 or UTF-32 with theirs;
binary and other encodings are refused, by `opsbook runbook import` (exit 2, a sentence saying why) and by
the catalog (an error naming the file, the other runbooks still read). A file without a procedure exits 1;
a long one is listed one line per procedure."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from opsbook.runbooks.catalog import current_catalog
from opsbook.runbooks.config import RunbooksSettings
from opsbook.runbooks.parse import RunbookUnreadable, decode

OPSBOOK = str(Path(sys.executable).parent / "opsbook")
RUNBOOK = "# Ops — café\n\n## Restart the API\n\n1. Restart the API\n\n```bash\ndocker restart api\n```\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-be", "utf-32"])
def test_utf_files_read_as_the_same_text(encoding: str) -> None:
    data = RUNBOOK.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    assert decode(data) == RUNBOOK


@pytest.mark.parametrize(("data", "why"), [
    (PNG, "a binary file, not Markdown"),
    (RUNBOOK.encode("utf-16-le"), "UTF-16 without a byte-order mark"),
    ("# Ops\n\ncafé\n".encode("latin-1"), "not UTF-8 text (byte 0xe9 on line 3)"),
    (b"\xff\xfe\x00\xd8", "not valid UTF-16"),
])
def test_other_bytes_are_refused_saying_why(data: bytes, why: str) -> None:
    with pytest.raises(RunbookUnreadable, match=re.escape(why)):
        decode(data, "ops.md")


def _import(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([OPSBOOK, "runbook", "import", str(path), *args], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "200"}, timeout=120)


def test_the_import_command(tmp_path: Path) -> None:
    utf16 = tmp_path / "utf16.md"
    utf16.write_bytes(RUNBOOK.encode("utf-16"))
    res = _import(utf16)
    assert res.returncode == 0 and "Ops — café: 1 procedure" in res.stdout
    assert "docker restart api" in res.stdout

    binary = tmp_path / "logo.md"
    binary.write_bytes(PNG)
    res = _import(binary)
    assert res.returncode == 2 and res.stdout == ""
    assert f"error: {binary}: a binary file, not Markdown" in " ".join(res.stderr.split())

    notes = tmp_path / "notes.md"
    notes.write_text("# Notes\n\nNothing to do here.\n")
    res = _import(notes, "--json")
    assert res.returncode == 1 and "no procedures in" in res.stderr

    long = tmp_path / "long.md"
    long.write_text("# Ops\n\n" + "".join(f"## Fix {i}\n\n1. Restart api{i}\n\n" for i in range(60)))
    res = _import(long)
    assert res.returncode == 0
    assert res.stdout.splitlines()[1:] == [f"Fix {i}  (1 step)" for i in range(60)]


def test_the_catalog_skips_unreadable_files(tmp_path: Path) -> None:
    (tmp_path / "rb").mkdir()
    (tmp_path / "rb" / "ops.md").write_text(RUNBOOK, encoding="utf-8")
    (tmp_path / "rb" / "utf16.md").write_bytes(RUNBOOK.replace("API", "DB").encode("utf-16"))
    (tmp_path / "rb" / "logo.md").write_bytes(PNG)
    catalog = current_catalog(RunbooksSettings(folders=["rb"]), tmp_path)
    assert sorted(f.procedure.title for f in catalog.all()) == ["Restart the API", "Restart the DB"]
    [error] = catalog.errors
    assert error.startswith(f"{tmp_path / 'rb' / 'logo.md'}: a binary file, not Markdown")
