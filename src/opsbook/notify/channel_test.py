"""`opsbook notify test CHANNEL`: a test message through the one way out, delivered at once and once.

Apart from notify/service.py because it delivers (Apprise and the delivery worker), which the commands a
responder types do not need to load.
"""

from __future__ import annotations

from opsbook.notify.apprise_send import SendOutcome
from opsbook.notify.messages import ChannelTest
from opsbook.notify.service import UnknownChannel, send
from opsbook.notify.worker import DeliveryWorker
from opsbook.runtime import Runtime


async def send_test(
    runtime: Runtime, channel: str, worker: DeliveryWorker | None = None
) -> tuple[int, SendOutcome]:
    """Record a test message for `channel` in the outbox and deliver it now, once (no retries).

    Returns the outbox id and the outcome (its error redacted). Raises UnknownChannel.
    """
    config = runtime.config
    if channel not in {c.name for c in config.channels}:
        known = ", ".join(c.name for c in config.channels) or "none configured"
        raise UnknownChannel(f"no channel named {channel!r} (channels: {known})")
    now = runtime.clock.now()
    with runtime.sessions.begin() as session:
        [row] = send(session, config, ChannelTest(channel, now), now)
        session.flush()
        row_id = row.id
    worker = worker or DeliveryWorker.from_runtime(runtime)
    outcomes = await worker.deliver_ids([row_id], final=True)
    if not outcomes:  # another worker took it first; it will be delivered (and recorded) there
        return row_id, SendOutcome(True, "", 0.0)
    return row_id, outcomes[0]
