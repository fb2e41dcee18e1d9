"""Shared by the web UI and status page tests: a config with public and private services, users with
passwords, results written through the store, and an app with the UI mounted."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from fastapi import FastAPI
from sqlalchemy import Engine

from opsbook.auth import passwords
from opsbook.checks.result import CheckResult, Status, StoredResult
from opsbook.checks.store import write_batch
from opsbook.clock import Clock
from opsbook.runtime import Runtime
from opsbook.web.app import create_app
from opsbook.web.ui import mount_ui
from tests.support import make_runtime

PASSWORD = "correct horse battery"

CONFIG = """\
title: Acme Ops
timezone: UTC
base_url: http://status.acme.test
status_page:
  title: Acme status
  description: Live status of Acme's public services
  logo_url: /static/favicon.svg
services:
  - name: api
    description: Public API
    public: true
    checks:
      - {name: health, kind: tcp, host: 127.0.0.1, port: 1, interval: 30s}
      - {name: login, kind: tcp, host: 127.0.0.1, port: 1, interval: 30s}
  - name: web
    description: Website
    public: true
    checks:
      - {name: home, kind: tcp, host: 127.0.0.1, port: 1, interval: 30s}
  - name: secret-billing-db
    description: Internal-only ledger database
    checks:
      - {name: replication-lag-zebra, kind: tcp, host: 127.0.0.1, port: 1, interval: 30s}
users:
  - {name: ana, full_name: Ana Admin, role: admin}
  - {name: rick, full_name: Rick Responder, role: responder}
  - {name: vera, full_name: Vera Viewer, role: viewer}
schedules:
  - name: primary
    timezone: UTC
    layers:
      - name: weekly
        users: [rick, ana]
        turn: 1w
        handoff: "monday 09:00"
        start: 2026-01-05
"""

PRIVATE_WORDS = ("secret-billing-db", "replication-lag-zebra", "Internal-only ledger", "ZEBRA-LEAK")


def runtime_for(engine: Engine, clock: Clock, config: str = CONFIG) -> Runtime:
    runtime = make_runtime(engine, clock, config)
    with runtime.sessions.begin() as session:
        for user in ("ana", "rick", "vera"):
            passwords.set_password(session, user, PASSWORD, clock.now())
    return runtime


def ui_app(runtime: Runtime) -> FastAPI:
    app = create_app(runtime, run_pipeline=False)
    mount_ui(app, runtime)
    return app


def write(runtime: Runtime, results: Iterable[tuple[str, datetime, Status, str]]) -> None:
    batch = [
        StoredResult(check_id, ts, CheckResult(status, 12.0 if status is not Status.DOWN else None, message))
        for check_id, ts, status, message in results
    ]
    with runtime.sessions.begin() as session:
        write_batch(session, batch)
