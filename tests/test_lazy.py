"""opsbook.lazy: a module is bound at once and loaded at its first attribute read."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from opsbook.lazy import lazy_modules


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A package `lazypkg` whose submodule `heavy` records in `lazypkg.loaded` when it runs."""
    root = tmp_path / "lazypkg"
    root.mkdir()
    (root / "__init__.py").write_text("loaded = []\n")
    (root / "heavy.py").write_text("import lazypkg\nlazypkg.loaded.append('heavy')\nANSWER = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "lazypkg"
    for name in [name for name in sys.modules if name.split(".")[0] == "lazypkg"]:
        del sys.modules[name]


def test_a_module_runs_at_its_first_attribute_read(package: str) -> None:
    (heavy,) = lazy_modules("lazypkg.heavy")
    parent = sys.modules["lazypkg"]
    assert parent.loaded == []
    assert heavy.ANSWER == 42
    assert parent.loaded == ["heavy"]
    assert parent.heavy is heavy
    from lazypkg.heavy import ANSWER

    assert ANSWER == 42
    assert parent.loaded == ["heavy"]


def test_a_module_already_imported_is_returned_as_it_is(package: str) -> None:
    import lazypkg.heavy

    assert lazy_modules("lazypkg.heavy") == (lazypkg.heavy,)


def test_a_missing_module_is_an_error_at_once(package: str) -> None:
    with pytest.raises(ModuleNotFoundError):
        lazy_modules("lazypkg.missing")
