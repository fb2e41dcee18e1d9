"""The current catalog: parsed once, the same object while the folder is unchanged, read again as soon as a
runbook file is edited (even to the same size, within the filesystem's mtime tick), added or removed."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from opsbook.runbooks.catalog import current_catalog
from opsbook.runbooks.config import RunbooksSettings

RUNBOOK = """# Ops

## Restart the API

```bash
# Restart
docker restart {name}
```
"""
LONG_AGO = 1_600_000_000  # seconds since the epoch: a file nobody touched for years


def _write(path: Path, name: str, mtime: int | None = LONG_AGO) -> None:
    path.write_text(RUNBOOK.format(name=name), encoding="utf-8")
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def _commands(settings: RunbooksSettings, base: Path) -> list[str]:
    return [s.command for f in current_catalog(settings, base).all() for s in f.procedure.steps]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "rb").mkdir()
    _write(tmp_path / "rb" / "ops.md", "api-1")
    return tmp_path


def test_unchanged_folder_gives_the_same_catalog(folder: Path) -> None:
    settings = RunbooksSettings(folders=["rb"])
    first = current_catalog(settings, folder)
    assert [f.ref for f in first.all()] == ["ops/restart-the-api"]
    assert current_catalog(settings, folder) is first
    assert current_catalog(RunbooksSettings(folders=["rb"]), str(folder)) is first  # same config, same key


def test_an_edit_is_seen_at_once(folder: Path) -> None:
    settings = RunbooksSettings(folders=["rb"])
    runbook = folder / "rb" / "ops.md"
    assert _commands(settings, folder) == ["docker restart api-1"]
    _write(runbook, "api-2", mtime=LONG_AGO + 1)  # same size, another mtime
    assert _commands(settings, folder) == ["docker restart api-2"]
    just_now = time.time_ns()
    for name in ("api-3", "api-4"):  # two edits within one mtime tick: same size, same mtime
        _write(runbook, name, mtime=None)
        os.utime(runbook, ns=(just_now, just_now))
        assert _commands(settings, folder) == [f"docker restart {name}"]


def test_added_and_removed_files_are_seen(folder: Path) -> None:
    settings = RunbooksSettings(folders=["rb", "more"])
    first = current_catalog(settings, folder)
    assert first.errors == [f"{folder / 'more'}: runbook folder not found"]
    (folder / "more").mkdir()
    _write(folder / "more" / "db.md", "db-1")
    second = current_catalog(settings, folder)
    assert second.errors == [] and len(second.all()) == 2
    (folder / "rb" / "ops.md").unlink()
    assert [f.entry.path for f in current_catalog(settings, folder).all()] == [str(folder / "more" / "db.md")]


def test_threads_share_one_catalog(folder: Path) -> None:
    settings = RunbooksSettings(folders=["rb"])
    seen: list[int] = []
    threads = [
        threading.Thread(target=lambda: seen.append(id(current_catalog(settings, folder)))) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen)) == 1
