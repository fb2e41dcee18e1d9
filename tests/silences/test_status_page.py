"""Maintenance windows added and removed through each surface (API, web UI form, CLI against the same
database) show on the very next read of /status.json: the use cases' events keep the page fresh, no
surface does it by hand."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from opsbook.auth.roles import Role
from opsbook.auth.tokens import create_token
from opsbook.cli.main import app as cli
from opsbook.clock import SystemClock
from tests.web_ui.test_pages import sign_in
from tests.web_ui.ui_support import CONFIG, runtime_for, ui_app


def test_every_surface_shows_on_the_next_status_read(sqlite_engine: Engine, tmp_path: Path) -> None:
    runtime = runtime_for(sqlite_engine, SystemClock())
    app = ui_app(runtime)
    public = TestClient(app)

    def shown() -> list[str]:
        return sorted(m["title"] for m in public.get("/status.json").json()["maintenance"])

    assert shown() == []  # the page is built and cached from here on
    soon = (runtime.clock.now() + timedelta(minutes=5)).isoformat()

    with runtime.sessions.begin() as session:
        token = create_token(session, "deployer", Role.RESPONDER, runtime.clock.now())
    api = {"Authorization": f"Bearer {token}"}
    made = public.post("/api/v1/maintenance", headers=api,
                       json={"services": ["web"], "title": "API window", "starts_at": soon, "duration": "1h"})
    assert made.status_code == 201, made.text
    assert shown() == ["API window"]

    rick, csrf = sign_in(app, "rick")
    form = {"csrf_token": csrf, "title": "UI window", "services": ["web"], "starts": "10m", "duration": "1h"}
    assert "scheduled" in rick.post("/ui/maintenance", data=form).text
    assert shown() == ["API window", "UI window"]

    config = tmp_path / "opsbook.yaml"
    config.write_text(CONFIG)
    env = {"OPSBOOK_CONFIG": str(config), "OPSBOOK_USER": "carol",
           "OPSBOOK_DATABASE_URL": sqlite_engine.url.render_as_string(hide_password=False)}
    runner = CliRunner()
    added = runner.invoke(cli, ["maintenance", "add", "-s", "web", "--start", soon, "--duration", "2h",
                                "--title", "CLI window"], env=env)
    assert added.exit_code == 0, added.output
    assert shown() == ["API window", "CLI window", "UI window"]

    removed = runner.invoke(cli, ["maintenance", "cancel", str(made.json()["id"])], env=env)
    assert removed.exit_code == 0, removed.output
    assert shown() == ["CLI window", "UI window"]
    ui_window = made.json()["id"] + 1
    assert "cancelled" in rick.post(f"/ui/maintenance/{ui_window}/cancel", data={"csrf_token": csrf}).text
    assert shown() == ["CLI window"]
    assert public.delete(f"/api/v1/maintenance/{ui_window + 1}", headers=api).status_code == 200
    assert shown() == []
