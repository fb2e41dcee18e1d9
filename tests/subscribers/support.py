"""What the subscriber tests share: a config with public and internal services and a mail channel on the
test SMTP server, the pipeline served on 127.0.0.1, and reading the links out of messages."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage

import httpx
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from opsbook.auth.sessions import LOGIN_COOKIE
from opsbook.clock import FakeClock
from opsbook.pipeline import Pipeline
from opsbook.runtime import Runtime
from opsbook.subscribers.models import SubscriberRow
from opsbook.web.app import create_app
from tests.backups.support import settle
from tests.support import make_runtime, serving

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BASE = "https://status.acme.test"
ADDRESS = "ana.customer@example.com"


def config(smtp_port: int, extra: str = "") -> str:
    return f"""\
title: Acme Ops
timezone: Europe/Berlin
base_url: {BASE}
channels:
  - name: status-mail
    url: "mailto://127.0.0.1:{smtp_port}?from=status@acme.test&mode=insecure"
routing:
  P0: {{action: log}}
  P1: {{action: log}}
  P2: {{action: log}}
  P3: {{action: log}}
  P4: {{action: log}}
status_page:
  title: Acme status
  subscribers:
    enabled: true
    mail_channel: status-mail
    private_webhooks: true
    maintenance_lead: 10m
    confirm_within: 30m
    per_ip: 6/1h
    per_address: 2/1d
services:
  - {{name: api, public: true}}
  - {{name: web, public: true}}
  - {{name: billing-db, description: internal ledger}}
{extra}"""


def runtime_of(engine: Engine, clock: FakeClock, smtp_port: int, extra: str = "") -> Runtime:
    return make_runtime(engine, clock, config(smtp_port, extra))


@dataclass
class Served:
    runtime: Runtime
    pipeline: Pipeline
    http: httpx.AsyncClient

    async def settle(self, predicate: object = None) -> None:
        await settle(self.pipeline, predicate)  # type: ignore[arg-type]

    async def subscribe(self, address: str, kind: str = "email", services: tuple[str, ...] = (),
                        client: httpx.AsyncClient | None = None) -> httpx.Response:
        http = client or self.http
        form = await http.get("/status/subscribe")
        assert form.status_code == 200
        csrf = form.cookies.get(LOGIN_COOKIE) or http.cookies.get(LOGIN_COOKIE)
        data = {"kind": kind, "address": address, "csrf_token": csrf, "service": list(services)}
        return await http.post("/status/subscribe", data=data)


@asynccontextmanager
async def served(runtime: Runtime) -> AsyncIterator[Served]:
    pipeline = Pipeline(runtime)
    await pipeline.start()
    try:
        async with serving(create_app(runtime, pipeline, run_pipeline=False)) as base, \
                httpx.AsyncClient(base_url=base) as http:
            yield Served(runtime, pipeline, http)
    finally:
        await pipeline.stop()


def link(text: str, kind: str) -> str:
    """The path of the first `/status/<kind>/TOKEN` link in `text`."""
    found = re.search(rf"{re.escape(BASE)}(/status/{kind}/[A-Za-z0-9_.\-]+)", text)
    assert found is not None, f"no {kind} link in {text!r}"
    return found.group(1)


def to(messages: list[EmailMessage], address: str) -> list[EmailMessage]:
    return [m for m in messages if address in str(m["To"])]


def body(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def subscribers(engine: Engine) -> list[SubscriberRow]:
    with Session(engine) as s:
        return list(s.scalars(select(SubscriberRow).order_by(SubscriberRow.id)))
