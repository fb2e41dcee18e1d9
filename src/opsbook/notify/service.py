"""Notification logic the rest of opsbook calls: route by severity, render, enqueue once per channel.

`enqueue_routed` is the one call for alerts and incidents: inside the caller's transaction it decides
(routing.py) where a message goes and when, renders it (templates.py) and adds one outbox row per
channel (outbox.py). `send_test` backs `opsbook notify test CHANNEL`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from opsbook.notify.apprise_send import SendOutcome
from opsbook.notify.models import OutboxRow
from opsbook.notify.outbox import enqueue
from opsbook.notify.routing import RouteDecision, route_for
from opsbook.notify.templates import RenderedMessage, render
from opsbook.rules.severity import Severity

if TYPE_CHECKING:
    from opsbook.config.schema import OpsbookConfig
    from opsbook.notify.worker import DeliveryWorker
    from opsbook.runtime import Runtime

GROUPED_KINDS = ("firing", "resolved")


@dataclass
class Enqueued:
    """What `enqueue_routed` decided: the route, the rendered message, the outbox rows (none for log)."""

    route: RouteDecision
    message: RenderedMessage | None
    rows: list[OutboxRow] = field(default_factory=list)


def render_for(config: OpsbookConfig, kind: str, context: Mapping[str, Any]) -> RenderedMessage:
    """Render a message with the config's templates, time zone, title and base URL."""
    return render(
        kind,
        context,
        config.notifications.templates,
        timezone=config.timezone,
        opsbook=config.title,
        base_url=config.base_url,
    )


def enqueue_routed(
    session: Session,
    config: OpsbookConfig,
    *,
    kind: str,
    severity: Severity | str,
    context: Mapping[str, Any],
    now: datetime,
    dedup_key: str | None,
    service: str | None = None,
    check_id: str | None = None,
    alert_id: int | None = None,
    incident_id: int | None = None,
    refs: dict[str, Any] | None = None,
    group: bool = True,
) -> Enqueued:
    """Route by severity, render `kind` with `context`, and enqueue one row per channel in `session`.

    `dedup_key` makes it idempotent per channel (use e.g. f"{alert_key}:firing:{since.isoformat()}").
    Firing and resolved messages of one service are grouped per `grouping` unless `group=False`.
    """
    sev = Severity.parse(str(severity))
    decision = route_for(config, sev, now)
    if decision.action == "log" or not decision.channels:
        return Enqueued(decision, None)
    values = {"severity": sev.value, "service": service, "check": check_id, **context}
    message = render_for(config, kind, values)
    group_key = f"{service}:{kind}" if group and service and kind in GROUPED_KINDS else None
    rows = [
        enqueue(
            session,
            channel=channel,
            subject=message.subject,
            body=message.body,
            kind=kind,
            now=now,
            dedup_key=dedup_key,
            severity=sev.value,
            service=service,
            check_id=check_id,
            alert_id=alert_id,
            incident_id=incident_id,
            refs={**(refs or {}), "action": decision.action},
            group_key=group_key,
            group_window=decision.group_window if group_key else timedelta(0),
            send_after=decision.send_after,
        )
        for channel in decision.channels
    ]
    return Enqueued(decision, message, rows)


class UnknownChannel(LookupError):
    pass


async def send_test(
    runtime: Runtime, channel: str, worker: DeliveryWorker | None = None
) -> tuple[int, SendOutcome]:
    """Record a test message for `channel` in the outbox and deliver it now, once (no retries).

    Returns the outbox id and the outcome (its error redacted). Raises UnknownChannel.
    """
    from opsbook.notify.worker import DeliveryWorker

    config = runtime.config
    if channel not in {c.name for c in config.channels}:
        known = ", ".join(c.name for c in config.channels) or "none configured"
        raise UnknownChannel(f"no channel named {channel!r} (channels: {known})")
    now = runtime.clock.now()
    message = render_for(config, "test", {"channel": channel, "now": now})
    with runtime.sessions.begin() as session:
        row = enqueue(
            session, channel=channel, subject=message.subject, body=message.body, kind="test", now=now
        )
        session.flush()
        row_id = row.id
    worker = worker or DeliveryWorker.from_runtime(runtime)
    outcomes = await worker.deliver_ids([row_id], final=True)
    if not outcomes:  # another worker took it first; it will be delivered (and recorded) there
        return row_id, SendOutcome(True, "", 0.0)
    return row_id, outcomes[0]
