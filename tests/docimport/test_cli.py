"""`opsbook init --from` and `opsbook doc check`, run as real processes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from opsbook.docimport.samples import environment
from tests.docimport.support import DOCS, EXAMPLES, imported

OPSBOOK = [str(Path(sys.executable).parent / "opsbook")]


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("OPSBOOK_")} | (env or {})
    full["OPSBOOK_PRELOAD"] = "off"  # each command in its own process, as this test set it up
    full["COLUMNS"] = "200"
    return subprocess.run([*OPSBOOK, *args], cwd=cwd, env=full, capture_output=True, text=True, timeout=60)


def test_init_from_writes_a_draft_that_validates_once_the_variables_are_set(tmp_path: Path) -> None:
    shutil.copy(EXAMPLES / "operations-template.md", tmp_path / "OPERATIONS.md")
    done = run(["init", "--from", "OPERATIONS.md"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Not understood (" in done.stdout and "OPERATIONS.md:142  Request Queue" in done.stdout
    assert "Understood, not mapped onto opsbook.yaml (the domain each belongs to):" in done.stdout
    draft = (tmp_path / "opsbook.yaml").read_text()
    assert draft.startswith("# Draft opsbook.yaml read from OPERATIONS.md")
    unset = run(["validate"], tmp_path)
    assert unset.returncode == 1 and "environment variable API_HOST is not set" in unset.stderr
    variables = imported(EXAMPLES / "operations-template.md").draft.variables
    ok = run(["validate"], tmp_path, environment(variables))
    assert ok.returncode == 0, ok.stderr
    again = run(["init", "--from", "OPERATIONS.md"], tmp_path)
    assert again.returncode == 1 and "exists" in again.stdout


def test_init_from_several_files_to_an_output(tmp_path: Path) -> None:
    for name in ("monitoring.md", "oncall.md"):
        shutil.copy(DOCS / "split" / name, tmp_path / name)
    (tmp_path / "conf").mkdir()
    done = run(
        ["init", "--from", "monitoring.md", "--from", "oncall.md", "--output", "conf/ops.yaml"], tmp_path
    )
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "conf" / "ops.yaml").read_text()
    assert "# monitoring.md:" in text and "# oncall.md:" in text
    assert "folders:\n    - .." in text  # the documents' folder, from where the config is


def test_init_from_a_missing_file(tmp_path: Path) -> None:
    done = run(["init", "--from", "NOPE.md"], tmp_path)
    assert done.returncode == 2 and "cannot read NOPE.md" in done.stderr
    assert not (tmp_path / "opsbook.yaml").exists()


def test_doc_check_agrees_then_finds_drift_with_both_lines(tmp_path: Path) -> None:
    shutil.copy(EXAMPLES / "pazpaz-operations.md", tmp_path / "OPERATIONS.md")
    assert run(["init", "--from", "OPERATIONS.md"], tmp_path).returncode == 0
    env = environment(imported(EXAMPLES / "pazpaz-operations.md").draft.variables)
    fresh = run(["doc", "check", "OPERATIONS.md"], tmp_path, env)
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert "agree" in fresh.stdout
    document = tmp_path / "OPERATIONS.md"
    document.write_text(document.read_text().replace("- P1: 15 minutes", "- P1: 10 minutes"))
    drifted = run(["doc", "check", "OPERATIONS.md"], tmp_path, env)
    assert drifted.returncode == 1
    config_line = next(
        i
        for i, line in enumerate((tmp_path / "opsbook.yaml").read_text().splitlines(), 1)
        if line.strip() == "P1: 15m"
    )
    assert "sla: P1 response time: the document says 10m, the config says 15m" in drifted.stdout
    assert "document: OPERATIONS.md:87" in drifted.stdout
    assert f"config:   opsbook.yaml:{config_line}" in drifted.stdout


def test_doc_check_with_a_broken_config(tmp_path: Path) -> None:
    shutil.copy(DOCS / "prose.md", tmp_path / "OPERATIONS.md")
    (tmp_path / "opsbook.yaml").write_text("services: 3\n")
    done = run(["doc", "check", "OPERATIONS.md"], tmp_path)
    assert done.returncode == 2 and "opsbook.yaml:1: services" in done.stderr
