"""The validated-config cache: served only while the file, the variables it reads and the code are unchanged;
broken files always report FILE:LINE; entries hide secrets, survive tampering and concurrent processes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

import pytest

from opsbook.config import cache
from opsbook.config.loader import load_config
from opsbook.config.yamlpos import ConfigError

T = TypeVar("T")

CONFIG = """\
title: ${TEAM_TITLE:-Acme}
database_url: ${DATABASE_URL}
services:
  - name: api
    checks:
      - {name: health, kind: http, url: "http://127.0.0.1:9/health", interval: 30s}
"""


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private cache folder, and the variables CONFIG reads set as a team would."""
    monkeypatch.setenv("OPSBOOK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("OPSBOOK_CONFIG_CACHE", raising=False)
    monkeypatch.delenv("TEAM_TITLE", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://ops:hunter2-secret@db/ops")
    return tmp_path / "cache" / "config"


class Counting:
    """Loads the file as the CLI does, counting the validations that really ran."""

    def __init__(self, path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.path = path
        self.runs = 0
        real = cache.cached

        def counting(text: str, filename: str, validate: Callable[[Mapping[str, str]], T]) -> T:
            def counted(env: Mapping[str, str]) -> T:
                self.runs += 1
                return validate(env)

            return real(text, filename, counted)

        monkeypatch.setattr(cache, "cached", counting)

    def title(self) -> str:
        return load_config(str(self.path), cached=True).config.title


@pytest.fixture
def loads(tmp_path: Path, folder: Path, monkeypatch: pytest.MonkeyPatch) -> Counting:
    path = tmp_path / "opsbook.yaml"
    path.write_text(CONFIG)
    return Counting(path, monkeypatch)


def test_an_unchanged_file_is_validated_once(loads: Counting) -> None:
    assert [loads.title(), loads.title(), loads.title()] == ["Acme"] * 3
    assert loads.runs == 1
    served, validated = load_config(str(loads.path), cached=True), load_config(str(loads.path))
    assert served.config == validated.config
    assert served.config.database_url == "postgresql://ops:hunter2-secret@db/ops"
    assert (served.path, served.secrets) == (validated.path, validated.secrets)
    assert served.config.runbooks.base_dir == str(loads.path.parent)


def test_a_changed_file_is_validated_again(loads: Counting) -> None:
    loads.title()
    loads.path.write_text(CONFIG.replace("Acme", "Globex"))
    assert loads.title() == "Globex"
    assert loads.runs == 2


def test_a_changed_variable_the_file_reads_is_never_served_stale(
    loads: Counting, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert loads.title() == "Acme"
    monkeypatch.setenv("TEAM_TITLE", "Initech")  # unset before: the default was used
    assert loads.title() == "Initech"
    monkeypatch.setenv("TEAM_TITLE", "Umbrella")
    assert loads.title() == "Umbrella"
    monkeypatch.delenv("TEAM_TITLE")
    assert loads.title() == "Acme"
    monkeypatch.setenv("DATABASE_URL", "sqlite:///other.db")
    assert load_config(str(loads.path), cached=True).config.database_url == "sqlite:///other.db"
    assert loads.runs == 5


def test_a_variable_the_file_does_not_read_changes_nothing(
    loads: Counting, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads.title()
    monkeypatch.setenv("SOMETHING_ELSE", "x")
    loads.title()
    assert loads.runs == 1


def test_changed_code_is_never_answered_from_an_older_entry(
    loads: Counting, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "lib" / "validators_pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("RULE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path / "lib"))
    monkeypatch.setattr(cache, "_CODE", (*cache._CODE, "validators_pkg"))
    loads.title()
    loads.title()
    (package / "__init__.py").write_text("RULE = 22\n")  # another size: a new version of the code
    loads.title()
    assert loads.runs == 2


def test_a_broken_file_reports_file_and_line_every_time_and_is_not_kept(
    loads: Counting, folder: Path
) -> None:
    loads.path.write_text(CONFIG.replace("interval: 30s", "interval: soon"))
    for _ in range(2):
        with pytest.raises(ConfigError) as info:
            loads.title()
        assert [str(i).split(": ")[0] for i in info.value.issues] == [f"{loads.path}:6"]
    assert loads.runs == 2
    assert list(folder.glob("*.bin")) == []


def test_entries_do_not_hold_secrets_in_clear(loads: Counting, folder: Path) -> None:
    loads.title()
    (entry,) = folder.glob("*.bin")
    assert b"hunter2-secret" not in entry.read_bytes()
    assert b"Acme" not in entry.read_bytes()
    assert entry.stat().st_mode & 0o077 == 0
    assert folder.stat().st_mode & 0o077 == 0


def test_a_tampered_or_cut_entry_is_a_miss(loads: Counting, folder: Path) -> None:
    loads.title()
    (entry,) = folder.glob("*.bin")
    data = bytearray(entry.read_bytes())
    data[-5] ^= 0xFF
    entry.write_bytes(bytes(data))
    assert loads.title() == "Acme"
    entry.write_bytes(entry.read_bytes()[:40])
    assert loads.title() == "Acme"
    assert loads.runs == 3


def test_a_folder_open_to_others_is_not_used(loads: Counting, folder: Path) -> None:
    loads.title()
    folder.chmod(0o755)
    loads.title()
    loads.title()
    assert loads.runs == 3


def test_turned_off_by_the_environment(loads: Counting, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSBOOK_CONFIG_CACHE", "off")
    loads.title()
    loads.title()
    assert loads.runs == 2


def test_old_entries_are_dropped(tmp_path: Path, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "MAX_ENTRIES", 3)
    for i in range(5):
        path = tmp_path / f"team{i}.yaml"
        path.write_text(CONFIG)
        load_config(str(path), cached=True)
    assert len(list(folder.glob("*.bin"))) == 3


READ = """\
import sys
from opsbook.config.loader import load_config
for _ in range(5):
    print(load_config(sys.argv[1], cached=True).config.title)
"""


def test_concurrent_processes_each_get_their_own_environments_config(loads: Counting, folder: Path) -> None:
    """Processes with different values of a variable the file reads, at once, sharing one cache entry:
    each must only ever see the config of its own environment."""
    procs = []
    for i in range(6):
        env = {**os.environ, "TEAM_TITLE": f"team-{i % 2}"}
        procs.append((f"team-{i % 2}", subprocess.Popen(
            [sys.executable, "-c", READ, str(loads.path)], env=env, stdout=subprocess.PIPE, text=True
        )))
    for title, proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0
        assert out.split() == [title] * 5
    assert len(list(folder.glob("*.bin"))) == 1
    assert not list(folder.glob(".new-*"))


ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = [*sorted((ROOT / "examples").glob("*.yaml")), ROOT / "src/opsbook/config/starter.yaml"]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.name)
def test_every_section_comes_back_from_the_cache_as_validated(
    example: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever sections the config grows, a served config equals a freshly validated one."""
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:db-secret@127.0.0.1:9/app")
    monkeypatch.setenv("REDIS_PASSWORD", "redis-secret")
    validated = load_config(str(example))
    load_config(str(example), cached=True)
    assert list(folder.glob("*.bin")), "the example's config could not be kept"
    served = load_config(str(example), cached=True)
    assert served.config == validated.config
    assert served.config.model_dump() == validated.config.model_dump()
    assert (served.path, served.secrets, served.all_secrets()) == (
        validated.path, validated.secrets, validated.all_secrets()
    )
