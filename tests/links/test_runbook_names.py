"""A rule's `runbook:` names a heading whose only content is sub-sections (`## API Not Responding` over
`### Steps`): the catalog finds it by its own name, as the procedure of its sub-sections' steps; and
`opsbook validate` (a real process) fails with FILE:LINE for every name the runbook folders do not have."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from opsbook.runbooks.catalog import ProcedureNotFound, current_catalog
from opsbook.runbooks.config import RunbooksSettings
from opsbook.runbooks.parse import parse_runbook
from opsbook.runbooks.sections import sections

OPSBOOK = str(Path(sys.executable).parent / "opsbook")
RUNBOOK = """# API runbook

## API Not Responding

The API stops answering.

### Symptoms

- Requests time out
- 502 from the load balancer

### Steps

1. Check the health endpoint
2. Restart the API

```bash
docker restart <container-id>
```

## Database

### Diagnose

```bash
# Count connections
psql -c "select count(*) from pg_stat_activity"
```

### Fix

- [ ] Kill the long queries

## Steps

- [ ] A section named like a sub-section elsewhere
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "api.md").write_text(RUNBOOK, encoding="utf-8")
    return tmp_path


def test_a_heading_of_one_sub_section_is_that_sub_section_by_its_own_name(folder: Path) -> None:
    catalog = current_catalog(RunbooksSettings(folders=["runbooks"]), folder)
    found = catalog.resolve("API Not Responding")
    assert found.ref == "api/api-not-responding"
    assert found.procedure.display == "API Not Responding"
    assert found.procedure.line == 3  # its own heading's line
    steps = catalog.resolve("API Not Responding > Steps").procedure.steps
    assert found.procedure.steps == steps  # the same steps, the same names and groups
    assert [p.name for p in found.procedure.parameters] == ["container-id"]
    assert found.procedure.description == "" or "Steps" not in found.procedure.description
    assert catalog.resolve("api/api-not-responding") == found  # its ref, as the page link carries it
    assert catalog.name_of(found) == "API Not Responding"
    assert [f.ref for f in catalog.all()] == [  # listed: what the parser found, as before
        "api/api-not-responding-steps", "api/database-diagnose", "api/database-fix", "api/steps"]


def test_a_heading_of_several_sub_sections_runs_them_all_in_order_labelled(folder: Path) -> None:
    found = current_catalog(RunbooksSettings(folders=["runbooks"]), folder).resolve("database")
    assert [(s.group, s.title) for s in found.procedure.steps] == [
        ("Diagnose", "Count connections"), ("Fix", "Kill the long queries")]
    assert RUNBOOK.splitlines()[found.procedure.line - 1] == "## Database"


def test_a_procedure_of_the_parser_wins_over_a_heading_and_unknown_names_list_headings(folder: Path) -> None:
    catalog = current_catalog(RunbooksSettings(folders=["runbooks"]), folder)
    with pytest.raises(ProcedureNotFound) as many:  # two procedures end in "Steps": no heading is asked
        catalog.resolve("Steps")
    assert "matches 2 procedures" in str(many.value)
    with pytest.raises(ProcedureNotFound) as typo:
        catalog.resolve("API Not Respondng")
    assert "API Not Responding  (api/api-not-responding)" in typo.value.candidates


def test_sections_keep_slugs_unique_and_skip_headings_with_steps_of_their_own() -> None:
    text = ("## Deploy\n\n- [ ] Tell the team\n\n### Roll back\n\n- [ ] Revert\n\n## Deploy roll back\n\n"
            "## X\n\n### Deploy\n\n- [ ] Y\n")
    procedures = parse_runbook(text).procedures
    heads = sections(procedures)
    assert [h.path for h in heads] == [("X",)]  # "Deploy" has a step of its own: it is a procedure already
    fenced = "# T\n\n## A\n\n```text\n## A\n```\n\n### B\n\n- [ ] Y\n"
    (head,) = sections(parse_runbook(fenced).procedures, fenced.split("\n"))
    assert head.line == 3  # a comment in a code block that reads like the heading is not it
    assert len({p.slug for p in (*procedures, *heads)}) == len(procedures) + len(heads)


CONFIG = """title: t
runbooks:
  folders:
    - runbooks
    - {missing}
  auto: ["Database"]
services:
  - name: api
    rules:
      - when: "failures >= 3"
        runbook: "API Not Responding"
      - name: five
        when: "failures >= 5"
        runbook: "API Not Respondng"
      - {{name: wiki, when: "failures >= 6", runbook: "https://wiki.example.com/api"}}
    checks:
      - name: health
        kind: tcp
        host: 127.0.0.1
        port: 1
        rules:
          - name: two
            when: "failures >= 2"
            runbook: "Restart everything"
"""


def _validate(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([OPSBOOK, "validate", "-c", str(folder / "opsbook.yaml")], capture_output=True,
                          text=True, timeout=60, cwd=folder)


def test_validate_names_the_file_and_line_of_every_runbook_that_does_not_exist(folder: Path) -> None:
    config = folder / "opsbook.yaml"
    config.write_text(CONFIG.format(missing="gone"), encoding="utf-8")
    bad = _validate(folder)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    said = (bad.stdout + bad.stderr).splitlines()
    where = str(config)
    assert f"{where}:5: runbooks.folders[1]: runbook folder '{folder / 'gone'}' not found" in said
    assert (f"{where}:14: services[0].rules[1].runbook: no procedure named 'API Not Respondng'; "
            "close matches: API Not Responding (api/api-not-responding)") in said
    assert (f"{where}:24: services[0].checks[0].rules[0].runbook: no procedure named 'Restart everything'"
            in said)
    assert len([line for line in said if line.startswith(where)]) == 3  # the heading and the URL are fine

    (folder / "more").mkdir()
    config.write_text(CONFIG.format(missing="more").replace("Respondng", "Responding")
                      .replace("Restart everything", "Database > Fix"), encoding="utf-8")
    good = _validate(folder)
    assert good.returncode == 0, good.stdout + good.stderr


def test_a_page_carries_a_few_first_steps_each_on_one_short_line() -> None:
    from opsbook.runbooks.service import STEP_CHARS, first_steps

    long = "curl -fsS " + "https://api.example.com/v1/health?verbose=true&region=eu-central-1 " * 5
    text = (f"## Restart\n\n1. Look at the graphs\n\n```bash\n# Probe the API\n{long}\n```\n\n"
            "- [ ] Tell the team\n- [ ] Write it down\n")
    steps = first_steps(parse_runbook(text).procedures[0])
    assert len(steps) == 3 and steps[0] == "Look at the graphs"
    assert steps[1].startswith("Probe the API: curl -fsS https://api.example.com") and steps[1].endswith("…")
    assert len(steps[1]) == STEP_CHARS and "\n" not in steps[1]
    assert steps[2] == "Tell the team"
