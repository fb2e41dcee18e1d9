"""The combined verdict of a check probed from several locations, written with the locations' results.

`LocatedStore(checks).write(session, batch)` is the result writer's store (in place of
`checks.store.write_batch`): it stores the batch (each location's result under its unit,
`service/check@location`, with that unit's own state and state-change log), then, for every check with
locations whose results are in the batch, takes the check's verdict (opsbook.locations.quorum) from each
location's newest result and stores it as the check's own result. Rules, alerts, uptime, SLOs and the
status page read the check's results as they always do, so they see the verdict.

A verdict is stored when the result of the check's *pacer* arrives (the first listed location that is
reporting: one verdict per interval, the pace of a check probed from one place) and whenever another
location's result changes the verdict's status (so a quorum reached is acted on at once). A rule counting
failures therefore counts verdicts: `failures >= 3` on a check with three locations fires after three
down verdicts in a row, about two to three intervals of the quorum agreeing — not after three failed
probes from anywhere (one interval), and not three per location.

Workers of several locations write verdicts of the same check: the check's state row is locked
(`SELECT … FOR UPDATE`) before the locations' newest results are read, so they take turns and the last
one sees every location's committed result.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.checks import store
from opsbook.checks.models import CheckStateRow
from opsbook.checks.result import CheckResult, Status, StoredResult
from opsbook.checks.store import BatchOutcome
from opsbook.locations.quorum import Quorum, Report, fresh_for, pacer, verdict
from opsbook.locations.units import located, split, unit_id


class LocatedStore:
    """Stores result batches, adding the verdicts of checks probed from several locations."""

    def __init__(self, checks: Mapping[str, Any]) -> None:
        self.located = located(checks)

    def write(self, session: Session, batch: Sequence[StoredResult]) -> BatchOutcome:
        outcome = store.write_batch(session, batch)
        newest: dict[str, StoredResult] = {}
        units: set[str] = set()
        for r in batch:
            check_id, location = split(r.check_id)
            if location is None:
                continue
            units.add(r.check_id)
            if check_id in self.located and (check_id not in newest or r.ts > newest[check_id].ts):
                newest[check_id] = r
        if not units:
            return outcome
        verdicts = self.verdicts(session, newest)
        combined = store.write_batch(session, verdicts) if verdicts else BatchOutcome()
        return BatchOutcome(
            changes=[*outcome.changes, *combined.changes],
            check_ids=(outcome.check_ids - units) | combined.check_ids,  # rules are the checks'
        )

    def verdicts(self, session: Session, newest: Mapping[str, StoredResult]) -> list[StoredResult]:
        """The verdicts to store for these checks, each triggered by its newest location result."""
        ids = sorted(newest)
        current = lock_states(session, ids, {cid: r.ts for cid, r in newest.items()})
        reports = location_reports(session, {cid: self.located[cid].locations for cid in ids})
        out: list[StoredResult] = []
        for check_id in ids:
            spec = self.located[check_id]
            trigger = newest[check_id]
            status, last_ts = current.get(check_id, (None, None))
            now = trigger.ts
            if last_ts is not None and now <= last_ts:
                continue  # a late result: the check's verdict has moved on
            quorum: Quorum = spec.quorum
            bound = fresh_for(spec.interval, spec.timeout)
            latest = reports.get(check_id, {})
            found = verdict(spec.locations, quorum, latest, now, bound)
            paces = split(trigger.check_id)[1] == pacer(spec.locations, latest, now, bound)
            if not paces and found.status == status:
                continue  # not its turn, and the verdict stays
            out.append(StoredResult(check_id, now, CheckResult(
                Status(found.status), found.latency_ms, found.message, trigger.result.values,
            )))
        return out


def lock_states(
    session: Session, check_ids: Sequence[str], first_seen: Mapping[str, datetime]
) -> dict[str, tuple[str | None, datetime | None]]:
    """Lock the checks' state rows (made if missing) in name order; their status and newest time."""
    if not check_ids:
        return {}
    have = set(session.scalars(select(CheckStateRow.check_id).where(CheckStateRow.check_id.in_(check_ids))))
    missing = [c for c in check_ids if c not in have]
    if missing:
        session.execute(_insert_ignoring(session), [
            {"check_id": c, "created_at": first_seen[c], "consecutive_failures": 0, "last_message": ""}
            for c in missing
        ])
    rows = session.execute(
        select(CheckStateRow.check_id, CheckStateRow.status, CheckStateRow.last_ts)
        .where(CheckStateRow.check_id.in_(check_ids))
        .order_by(CheckStateRow.check_id)
        .with_for_update()
    )
    return {check_id: (status, last_ts) for check_id, status, last_ts in rows}


def location_reports(
    session: Session, locations: Mapping[str, Iterable[str]]
) -> dict[str, dict[str, Report | None]]:
    """Each check's locations → the newest result of each (from its unit's state)."""
    wanted = {unit_id(cid, loc): (cid, loc) for cid, where in locations.items() for loc in where}
    out: dict[str, dict[str, Report | None]] = {cid: dict.fromkeys(where) for cid, where in locations.items()}
    if not wanted:
        return out
    rows = session.execute(
        select(CheckStateRow.check_id, CheckStateRow.status, CheckStateRow.last_ts,
               CheckStateRow.last_latency_ms, CheckStateRow.last_message)
        .where(CheckStateRow.check_id.in_(sorted(wanted)))
    )
    for unit, status, last_ts, latency, message in rows:
        if status is None or last_ts is None:
            continue
        check_id, location = wanted[unit]
        out[check_id][location] = Report(last_ts, status, latency, message or "")
    return out


def _insert_ignoring(session: Session) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(CheckStateRow).on_conflict_do_nothing(index_elements=["check_id"])
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(CheckStateRow).on_conflict_do_nothing(index_elements=["check_id"])
