"""The pages links lead to, and what a stale link shows: a procedure page (a heading of sub-sections with
its steps grouped, parameters, the command that runs it), the address older messages gave alerts, and an
HTML page, not the API's JSON, for an alert or procedure that is not there (after signing in, which
returns to the page asked for)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from opsbook.auth.sessions import LOGIN_COOKIE
from opsbook.clock import FakeClock
from tests.web_ui.ui_support import CONFIG, PASSWORD, runtime_for, ui_app

RUNBOOK = """# Database

## Database is slow

### Diagnose

```bash
# Count connections
psql "$DATABASE_URL" -c "select count(*) from pg_stat_activity"
```

### Fix

```bash
# Kill the long query
psql "$DATABASE_URL" -c "select pg_terminate_backend(<pid>)"
```

- [ ] Graphs look normal again
"""


def client_for(sqlite_engine: Engine, tmp_path: Path) -> TestClient:
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "db.md").write_text(RUNBOOK, encoding="utf-8")
    config = CONFIG + f'runbooks:\n  folders: ["{tmp_path / "runbooks"}"]\n'
    return TestClient(ui_app(runtime_for(sqlite_engine, FakeClock(), config)))


def sign_in_at(client: TestClient, path: str) -> str:
    """Open `path` signed out: sent to sign in, which brings the browser back to it. The page's HTML."""
    login = client.get(path)
    assert login.url.path == "/login" and login.url.params["next"] == path
    form = {"username": "vera", "password": PASSWORD, "csrf_token": client.cookies[LOGIN_COOKIE],
            "next": path}
    page = client.post("/login", data=form)
    assert page.url.path == path.split("?")[0]
    assert "text/html" in page.headers["content-type"]
    return page.text


def test_a_procedure_page_shows_steps_by_sub_section_parameters_and_how_to_run_it(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    client = client_for(sqlite_engine, tmp_path)
    html = sign_in_at(client, "/ui/procedures/db/database-is-slow")
    assert "<h1>Database is slow" in html
    grouped = r"<h3[^>]*>Diagnose</h3>.*Count connections.*<h3[^>]*>Fix</h3>.*Kill the long query.*Graphs"
    assert re.search(grouped, html, re.S)
    assert "<code>pid</code>" in html and "<code>DATABASE_URL</code>" in html  # its parameters
    assert "environment variable (secret, never stored)" in html
    assert '<code id="run-command">opsbook runbook run &#34;Database is slow&#34;</code>' in html
    assert "Not run yet." in html
    listed = client.get("/ui/runbooks").text  # the heading by its own name, then its two sub-sections
    assert re.findall(r'href="/ui/procedures/(db/database-[^"]+)"', listed) == [
        "db/database-is-slow", "db/database-is-slow-diagnose", "db/database-is-slow-fix"]
    assert "<code>opsbook runbook run &#34;Database is slow&#34;</code>" in listed


def test_a_stale_link_shows_a_page_saying_so(sqlite_engine: Engine, tmp_path: Path) -> None:
    client = client_for(sqlite_engine, tmp_path)
    gone = "/ui/procedures/db/database-is-gone"
    html = sign_in_at(client, gone)  # signed out: sign in first, then the page
    assert "<h1>Not found</h1>" in html and "no procedure db/database-is-gone" in html
    renamed = client.get("/ui/procedures/db/database-slow")  # the runbook's heading was edited since
    assert renamed.status_code == 404
    assert '<a href="/ui/procedures/db/database-is-slow">Database is slow</a>' in renamed.text
    assert client.get(gone).status_code == 404
    alert = client.get("/ui/alerts/999")
    assert alert.status_code == 404 and "text/html" in alert.headers["content-type"]
    assert "no alert 999" in alert.text
    assert client.get("/ui/no-such-page").status_code == 404
    old = client.get("/alerts/999", follow_redirects=False)  # the address older messages gave an alert
    assert (old.status_code, old.headers["location"]) == (308, "/ui/alerts/999")
    forbidden = client.get("/ui/audit")  # vera is a viewer
    assert forbidden.status_code == 403 and "<h1>Not allowed</h1>" in forbidden.text
    api = client.get("/api/v1/alerts/999")  # the API still answers JSON
    assert api.status_code == 404 and api.json() == {"detail": "no alert 999"}
    signed_out = TestClient(client.app).get(gone, follow_redirects=False)
    assert quote(gone, safe="") in signed_out.headers["location"]
