"""The alert hooks of a command run outside `serve` (`opsbook pg maintain`): the same mute, notify and
incident steps the pipeline's `run_hooks` takes, so a failing task run from the CLI alerts like one run
by `serve` (the delivery worker of a running `serve` sends the outbox rows)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from opsbook.alerts.dispatch import Dispatcher, config_dir
from opsbook.alerts.types import AlertTransition
from opsbook.incidents.linking import alert_hook
from opsbook.postgres.upkeep import Hooks
from opsbook.runtime import Runtime


def standalone_hooks(runtime: Runtime) -> Hooks:
    dispatcher = Dispatcher(runtime.config, config_dir(runtime.loaded.path))
    incidents = alert_hook(runtime.config)

    def hooks(session: Session, transitions: Sequence[AlertTransition], now: datetime) -> None:
        marked = dispatcher.mark_muted(session, transitions, now)
        dispatcher(session, marked, now)
        incidents(session, marked, now)

    return hooks
