"""What a runbook list shows works as typed: `opsbook runbook list` (and the API's and the page's lists)
name a heading whose only content is sub-sections by its own name ("Checkout Failing", what a rule's
`runbook:` says), with the joined names of the same steps as other names; every name listed, typed into
`opsbook runbook run` by a real shell, runs the steps the list counted. A document in several heading
styles: setext, ATX with closing hashes, and sub-sections two levels down."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from opsbook.auth.roles import Role
from opsbook.auth.tokens import create_token
from opsbook.clock import FakeClock
from opsbook.runbooks.catalog import current_catalog
from opsbook.runbooks.commands import run_command
from opsbook.runbooks.config import RunbooksSettings
from opsbook.web.app import create_app
from tests.support import make_runtime

BIN = str(Path(sys.executable).parent)
RUNBOOK = """Payments runbook
================

Checkout Failing
----------------

Customers cannot pay.

### Symptoms

- Customers see a 500 at checkout

### Steps

1. Check the payment provider's status page
2. Restart the checkout worker:

   ```bash
   echo "checkout restarted"
   ```

## Refunds Stuck ##

#### Diagnose

```bash
# Count stuck refunds
echo 3
```

#### Fix

- [ ] Requeue the refunds

## Queue Backlog

- [ ] Scale the workers

## Database

### Replica Lag

#### Steps

- [ ] Check the replica's WAL position
"""
LISTED = [  # name, other names of the same steps, steps
    ("Checkout Failing", ["Checkout Failing > Steps"], 2),
    ("Refunds Stuck", [], 2),  # both sub-sections, in order
    ("Refunds Stuck > Diagnose", [], 1),
    ("Refunds Stuck > Fix", [], 1),
    ("Queue Backlog", [], 1),
    ("Database", ["Database > Replica Lag", "Database > Replica Lag > Steps"], 1),
]


@pytest.fixture
def team(tmp_path: Path) -> Path:
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "payments.md").write_text(RUNBOOK, encoding="utf-8")
    config = f"title: t\ndatabase_url: sqlite:///{tmp_path}/opsbook.db\nrunbooks:\n  folders: [runbooks]\n"
    (tmp_path / "opsbook.yaml").write_text(config, encoding="utf-8")
    return tmp_path


def _opsbook(team: Path, line: str, columns: int = 80) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "COLUMNS": str(columns)}
    env.pop("OPSBOOK_CONFIG", None)
    return subprocess.run(["bash", "-c", line], cwd=team, env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=60)


def test_the_catalog_lists_each_set_of_steps_once_by_its_shortest_name(team: Path) -> None:
    catalog = current_catalog(RunbooksSettings(folders=["runbooks"]), team)
    listing = catalog.listing()
    assert [(r.name, list(r.also), len(r.found.procedure.steps)) for r in listing] == LISTED
    for row in listing:
        for name in (row.name, *row.also):  # each name resolves to these very steps
            assert catalog.resolve(name).procedure.steps == row.found.procedure.steps, name
    assert catalog.all()[0].procedure.display == "Checkout Failing \u203a Steps"  # as parsed


def test_every_name_the_list_shows_runs_as_typed(team: Path) -> None:
    table = _opsbook(team, "opsbook runbook list")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), table.stdout
    for name, also, _ in LISTED:  # each name whole on a line of its own row, where a person copies it
        assert any(f"\u2502 {name} " in line for line in lines), (name, table.stdout)
        for other in also:
            assert any(f"\u2502 also: {other} " in line for line in lines), (other, table.stdout)
    wide = _opsbook(team, "opsbook runbook list", columns=120).stdout
    assert "payments/checkout-failing" in wide  # with room, the refs too

    listed = json.loads(_opsbook(team, "opsbook runbook list --json").stdout)
    assert [(r["name"], r["also"], r["steps"]) for r in listed] == LISTED
    for row in listed:
        for name in (row["name"], *row["also"]):
            ran = _opsbook(team, run_command(None, name) + " --dry-run")
            assert ran.returncode == 0, (name, ran.stdout, ran.stderr)
            assert f"Step {row['steps']}/{row['steps']}" in ran.stdout, (name, ran.stdout)
            assert f"Step {row['steps'] + 1}/" not in ran.stdout


def test_the_api_lists_the_same_names(team: Path, sqlite_engine: Engine) -> None:
    runtime = make_runtime(sqlite_engine, FakeClock(),
                           f'runbooks:\n  folders: ["{team / "runbooks"}"]\n')
    with runtime.sessions.begin() as session:
        token = create_token(session, "wall", Role.VIEWER, runtime.clock.now())
    client = TestClient(create_app(runtime, run_pipeline=False))
    viewer = {"Authorization": f"Bearer {token}"}
    procedures = client.get("/api/v1/procedures", headers=viewer).json()
    assert [(p["name"], p["also"], p["steps"]) for p in procedures] == LISTED
    books = client.get("/api/v1/runbooks", headers=viewer).json()["runbooks"]
    assert [p["name"] for p in books[0]["procedures"]] == [name for name, _, _ in LISTED]
    asked = client.get("/api/v1/procedures", params={"q": "Checkout Failing > Steps"}, headers=viewer).json()
    assert asked[0]["name"] == "Checkout Failing > Steps"  # what was asked for resolves, by its own name
