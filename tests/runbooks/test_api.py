"""The runbooks and oplog API of the whole app: viewers read, responders run (audit-logged), destructive
steps need the step's name, refusals are answered by the app's error handler, a finished run's oplog entry
is served and exported."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from opsbook.auth.audit import recent
from opsbook.auth.roles import Role
from opsbook.auth.tokens import create_token
from opsbook.runtime import Runtime, open_runtime
from opsbook.web.app import create_app

RUNBOOK = """\
# Ops

## Clear cache

```bash
# Show
echo "cache <name> has $API_SECRET_X"

# Wipe
rm -rf <dir>/cache
```

- [ ] Graphs look fine
"""


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    (tmp_path / "rb").mkdir()
    (tmp_path / "rb" / "ops.md").write_text(RUNBOOK)
    config = tmp_path / "opsbook.yaml"
    config.write_text("runbooks:\n  folders: [rb]\n")
    monkeypatch.setenv("API_SECRET_X", "very-secret-value-1")
    rt = open_runtime(str(config), db_url=f"sqlite:///{tmp_path}/o.db")
    yield rt
    rt.close()


@pytest.fixture
def client(runtime: Runtime) -> TestClient:
    return TestClient(create_app(runtime, run_pipeline=False))


def _token(runtime: Runtime, role: Role) -> dict[str, str]:
    with runtime.sessions.begin() as session:
        return {"Authorization": f"Bearer {create_token(session, role.value, role, runtime.clock.now())}"}


def test_read_and_run_over_http(client: TestClient, runtime: Runtime, tmp_path: Path) -> None:
    viewer, responder = _token(runtime, Role.VIEWER), _token(runtime, Role.RESPONDER)
    assert client.get("/api/v1/runbooks").status_code == 401
    books = client.get("/api/v1/runbooks", headers=viewer).json()
    assert [p["ref"] for p in books["runbooks"][0]["procedures"]] == ["ops/clear-cache"]
    assert (
        client.get("/api/v1/procedures", params={"q": "CLEAR CACHE"}, headers=viewer).json()[0]["steps"] == 3
    )
    assert (
        client.get("/api/v1/procedures/ops/clear-cache", headers=viewer).json()["parameters"][0]["name"]
        == "name"
    )
    unknown = client.get("/api/v1/procedures", params={"q": "clear cash"}, headers=viewer)
    assert unknown.status_code == 404 and "close matches" in unknown.json()["detail"]

    body = {"procedure": "Clear cache", "params": {"name": "main", "dir": str(tmp_path)}, "incident_id": "9"}
    assert client.post("/api/v1/runs", json=body, headers=viewer).status_code == 403
    missing = client.post("/api/v1/runs", json={"procedure": "Clear cache"}, headers=responder)
    assert missing.status_code == 400 and missing.json()["detail"] == "missing parameters: name, dir"
    run = client.post("/api/v1/runs", json=body, headers=responder).json()
    run_id = run["id"]
    assert run["next_step"] == 0 and run["steps"][1]["command"] == f"rm -rf {tmp_path}/cache"

    step = client.post(f"/api/v1/runs/{run_id}/steps/0", json={"action": "run"}, headers=responder).json()
    assert step["step"]["status"] == "succeeded" and step["step"]["output"] == "cache main has ***\n"
    (tmp_path / "cache").mkdir()
    refused = client.post(f"/api/v1/runs/{run_id}/steps/1", json={"action": "run"}, headers=responder)
    assert refused.status_code == 409 and "step 'wipe' is destructive" in refused.json()["detail"]
    assert (tmp_path / "cache").exists()
    wiped = client.post(
        f"/api/v1/runs/{run_id}/steps/1", json={"action": "run", "confirm": "wipe"}, headers=responder
    )
    assert wiped.json()["step"]["status"] == "succeeded" and not (tmp_path / "cache").exists()
    last = client.post(f"/api/v1/runs/{run_id}/steps/2", json={"action": "done"}, headers=responder).json()
    assert last["run"]["status"] == "succeeded"
    again = client.post(f"/api/v1/runs/{run_id}/steps/2", json={"action": "done"}, headers=responder)
    assert again.status_code == 409 and "is succeeded" in again.json()["detail"]
    assert client.post(f"/api/v1/runs/{run_id}/abort", headers=responder).status_code == 409
    assert client.get(f"/api/v1/runs/{run_id + 1}", headers=viewer).status_code == 404

    entries = client.get("/api/v1/oplog", params={"incident_id": "9"}, headers=viewer).json()
    assert len(entries) == 1 and entries[0]["run_id"] == run_id
    assert "very-secret-value-1" not in str(entries)
    exported = client.get("/api/v1/oplog/export", params={"incident_id": "9"}, headers=viewer).text
    assert "Operation: Ran runbook procedure" in exported and "very-secret-value-1" not in exported
    added = client.post(
        "/api/v1/oplog",
        json={"operation": "Rotated keys", "duration_s": 60, "incident_id": "9"},
        headers=responder,
    )
    assert added.status_code == 201 and added.json()["operator"] == "token:responder"
    assert client.post("/api/v1/oplog", json={"operation": "x"}, headers=viewer).status_code == 403
    with runtime.sessions() as session:
        actions = [a.action for a in recent(session)]
    assert {"runbook.run.start", "runbook.step.run", "runbook.step.done", "oplog.add"} <= set(actions)
