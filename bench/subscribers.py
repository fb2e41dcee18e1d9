"""Benchmark: telling status page subscribers of an incident (issue 17).

    .venv/bin/python bench/subscribers.py [--subscribers 2000] [--deliver 500] [--db sqlite|postgresql://…]

N confirmed e-mail subscribers (half of them to every public service, half to one) on a fresh database.
A published incident on a public service, then:
- the fan-out: the subscriber watch's round (`subscribers.service.sync`) that renders one message per
  subscriber (public text, signed unsubscribe link) and queues it in the outbox, in one transaction;
- the delivery: the real DeliveryWorker sending the first --deliver of them through Apprise to a local
  aiosmtpd server (each a separate SMTP session with the List-Unsubscribe headers), claimed in batches.
Printed: wall time and per-subscriber cost of each.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import func, select, update

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.support import free_port, fresh_database

from opsbook.auth.roles import SYSTEM
from opsbook.clock import FakeClock
from opsbook.config.loader import parse_config
from opsbook.db.engine import make_engine, make_sessionmaker
from opsbook.db.migrate import upgrade
from opsbook.incidents import service as incidents
from opsbook.notify.models import SENT, OutboxRow
from opsbook.notify.worker import DeliveryWorker
from opsbook.runtime import Runtime
from opsbook.subscribers import service
from opsbook.subscribers.models import ACTIVE, SubscriberRow

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Sink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        return "250 OK"


def config(port: int) -> str:
    return f"""
base_url: https://status.example.com
channels:
  - name: status-mail
    url: "mailto://127.0.0.1:{port}?from=status@example.com&mode=insecure"
routing:
  {{P0: {{action: log}}, P1: {{action: log}}, P2: {{action: log}}, P3: {{action: log}}, P4: {{action: log}}}}
notifications: {{batch_size: 50}}
status_page:
  subscribers: {{enabled: true, mail_channel: status-mail}}
services:
  - {{name: api, public: true}}
  - {{name: web, public: true}}
"""


def seed(runtime: Runtime, count: int) -> None:
    with runtime.sessions.begin() as s:
        s.add_all(SubscriberRow(
            kind="email", address=f"user{n}@example.com", address_key=secrets.token_hex(32),
            services=[] if n % 2 else ["api"], pending_services=None, status=ACTIVE,
            confirm_nonce=secrets.token_hex(8), unsubscribe_nonce=secrets.token_hex(8), created_at=NOW,
            confirm_sent_at=NOW, confirmed_at=NOW,
        ) for n in range(count))


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, default=2000)
    parser.add_argument("--deliver", type=int, default=500)
    parser.add_argument("--db", default="sqlite")
    args = parser.parse_args()
    sink = Sink()
    port = free_port()
    smtp = Controller(sink, hostname="127.0.0.1", port=port)
    smtp.start()
    with fresh_database(args.db) as url:
        engine = make_engine(url)
        upgrade(engine)
        runtime = Runtime(loaded=parse_config(config(port), "opsbook.yaml", {}), engine=engine,
                          sessions=make_sessionmaker(engine), clock=FakeClock(NOW))
        seed(runtime, args.subscribers)
        opened = incidents.open_incident(runtime, SYSTEM, title="db down", severity="P1", service="api")
        incidents.publish_incident(runtime, SYSTEM, opened.id, title="Checkout errors",
                                   message="Some payments fail; we are looking into it.")
        started = time.perf_counter()
        service.sync(runtime)
        fanout = time.perf_counter() - started
        with runtime.sessions.begin() as s:
            queued = s.scalar(select(func.count()).select_from(OutboxRow)
                              .where(OutboxRow.kind == "status_incident")) or 0
            keep = select(OutboxRow.id).where(OutboxRow.kind == "status_incident").order_by(OutboxRow.id)
            first = list(s.scalars(keep.limit(args.deliver)))
            s.execute(update(OutboxRow).where(OutboxRow.kind == "status_incident", OutboxRow.id.not_in(first))
                      .values(status="cancelled"))
        worker = DeliveryWorker.from_runtime(runtime)
        started = time.perf_counter()
        while await worker.run_once():
            pass
        delivery = time.perf_counter() - started
        with runtime.sessions() as s:
            sent = s.scalar(select(func.count()).select_from(OutboxRow).where(OutboxRow.status == SENT)) or 0
        engine.dispose()
    smtp.stop()
    db = "SQLite" if args.db == "sqlite" else "PostgreSQL"
    print(f"{db}: {args.subscribers} subscribers, {queued} messages queued")
    print(f"fan-out round: {fanout * 1000:.0f} ms, {fanout / max(queued, 1) * 1e6:.0f} µs per subscriber")
    print(f"delivery: {sent} sent, {sink.count} received by SMTP in {delivery:.2f} s, "
          f"{sent / delivery:.0f} messages/s")


if __name__ == "__main__":
    asyncio.run(main())
