"""The pure parts of backups: reading list output (JSON of RDS and pgBackRest, `ls -l` lines), and the
judgement of a job at an instant (RPO, suspicious backups, retention, missed schedule, drills)."""

from __future__ import annotations

import contextlib
import json
import statistics
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opsbook.backups.assess import Backup, Drill, assess, drill_state, suspicious
from opsbook.backups.config import BackupJob, ListSource
from opsbook.backups.listing import ListingError, parse_listing, parse_time

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
ZONE = "Europe/Berlin"  # the team's zone: the messages say their times in it (CET here), never UTC


def job(**fields: object) -> BackupJob:
    return BackupJob.model_validate({"name": "db", "component": "db", "schedule": "0 2 * * *",
                                     "heartbeat": {}, **fields})


def test_rds_snapshots_json() -> None:
    output = json.dumps({"DBSnapshots": [
        {"DBSnapshotIdentifier": "rds:prod-2026-03-02", "SnapshotCreateTime": "2026-03-02T03:04:05.123Z",
         "AllocatedStorage": 20, "Status": "available"},
        {"DBSnapshotIdentifier": "rds:prod-2026-03-01", "SnapshotCreateTime": "2026-03-01T03:04:05Z",
         "AllocatedStorage": 20, "Status": "creating"},
    ]})
    source = ListSource(command="aws", items="DBSnapshots", time="SnapshotCreateTime",
                        size="AllocatedStorage", size_unit="GiB", status="Status", id="DBSnapshotIdentifier")
    found = parse_listing(output, source)
    assert [(b.ident, b.ts.day, b.size_bytes, b.ok) for b in found] == [
        ("rds:prod-2026-03-01", 1, 20 * 1024**3, False), ("rds:prod-2026-03-02", 2, 20 * 1024**3, True)]


def test_pgbackrest_info_json() -> None:
    output = json.dumps([{"name": "main", "backup": [
        {"label": "20260301-020000F", "timestamp": {"start": 1772330400, "stop": 1772331000},
         "info": {"size": 52428800}, "error": False},
        {"label": "20260302-020000F", "timestamp": {"start": 1772416800, "stop": 1772417400},
         "info": {"size": 1024}, "error": True},
    ]}])
    source = ListSource(command="pgbackrest info --output=json", items="0.backup", time="timestamp.stop",
                        size="info.size", status="error", id="label")
    found = parse_listing(output, source)
    assert [(b.ident, b.ok, b.size_bytes) for b in found] == [
        ("20260301-020000F", True, 52428800.0), ("20260302-020000F", False, 1024.0)]
    assert found[0].ts == datetime.fromtimestamp(1772331000, UTC)


def test_ls_lines_with_epoch_times() -> None:
    output = """total 12
-rw-r--r-- 1 backup backup 1048576 1772330400 db-2026-03-01.dump
-rw-r--r-- 1 backup backup 2097152 1772416800 db-2026-03-02.dump
drwxr-xr-x 2 backup backup 4096 not-a-time lost+found
"""
    found = parse_listing(output, ListSource(command="ls -l --time-style=+%s /backups", format="lines"))
    assert [(b.ident.split("@")[0], b.size_bytes) for b in found] == [
        ("db-2026-03-01.dump", 1048576.0), ("db-2026-03-02.dump", 2097152.0)]


def test_lines_with_iso_times_and_given_columns() -> None:
    output = "2026-03-01T02:10:00Z snapshot-a 300\n2026-03-02 02:10:00+01:00 snapshot-b 310\n"
    found = parse_listing(output, ListSource(command="x", format="lines", time="1", size="3", size_unit="MB"))
    assert [(b.ts.isoformat(), b.size_bytes) for b in found] == [
        ("2026-03-01T02:10:00+00:00", 300e6), ("2026-03-02T01:10:00+00:00", 310e6)]


@pytest.mark.parametrize(("output", "source", "message"), [
    ("not json", ListSource(command="x"), "the output is not JSON"),
    ('{"a": 1}', ListSource(command="x", items="DBSnapshots"), "no list of backups at 'DBSnapshots'"),
    ('[{"when": "yesterday"}]', ListSource(command="x", time="when"), "backup 1: no time at 'when'"),
])
def test_unreadable_output_says_where(output: str, source: ListSource, message: str) -> None:
    with pytest.raises(ListingError, match=message):
        parse_listing(output, source)


@given(st.text())
def test_any_output_is_read_or_refused_never_crashes(text: str) -> None:
    for source in (ListSource(command="x"), ListSource(command="x", format="lines")):
        with contextlib.suppress(ListingError):
            parse_listing(text, source)


@given(st.integers(min_value=315_532_800, max_value=4_102_444_800))
def test_epoch_seconds_read_back(seconds: int) -> None:
    assert parse_time(str(seconds)) == datetime.fromtimestamp(seconds, UTC)


def test_rpo_breaches_at_newest_good_plus_target() -> None:
    j = job(rpo="1d")
    backups = [Backup(T0, ok=True), Backup(T0 + timedelta(days=1), ok=False)]
    assert not assess(j, backups, T0, T0 + timedelta(days=1) - timedelta(seconds=1), zone=ZONE).rpo_breached
    state = assess(j, backups, T0, T0 + timedelta(days=1), zone=ZONE)
    assert state.rpo_breached and state.rpo_now == timedelta(days=1)
    # no backup ever: counted from when opsbook began watching
    assert assess(j, [], T0, T0 + timedelta(days=1), zone=ZONE).rpo_breached
    assert assess(j, [], T0, T0 + timedelta(hours=23), zone=ZONE).next_change == T0 + timedelta(days=1)


def test_suspicious_needs_history_and_the_factor() -> None:
    j = job(suspicious={"factor": 5, "window": 7, "min_history": 3})
    normal = [Backup(T0 + timedelta(days=i), duration_s=1000, size_bytes=1e9) for i in range(3)]
    too_little_history = [*normal[:2], Backup(T0, duration_s=1, size_bytes=1)]
    assert suspicious(j, too_little_history, zone=ZONE) == ""
    assert suspicious(j, [*normal, Backup(T0, duration_s=201, size_bytes=2.01e8)], zone=ZONE) == ""  # < 5x
    found = suspicious(j, [*normal, Backup(T0, duration_s=200, size_bytes=5e9)], zone=ZONE)
    assert found.startswith("suspicious backup at 2026-03-01 03:00 CET: it took 200 s against a median of "
                            "1000 s")
    assert "MB" not in found


@given(st.lists(st.floats(min_value=1, max_value=1e6), min_size=3, max_size=20),
       st.floats(min_value=1.01, max_value=50), st.floats(min_value=0, max_value=1))
def test_a_backup_within_the_factor_of_the_median_is_never_suspicious(
    durations: list[float], factor: float, where: float
) -> None:
    j = job(suspicious={"factor": factor, "min_history": 3, "window": 20})
    median = statistics.median(durations)
    backups = [Backup(T0 + timedelta(days=i), duration_s=d) for i, d in enumerate(durations)]
    newest = Backup(T0 + timedelta(days=len(durations)), duration_s=median / factor * (1.001 + where))
    assert suspicious(j, [*backups, newest], zone=ZONE) == ""
    too_fast = Backup(T0 + timedelta(days=len(durations)), duration_s=median / factor * 0.999)
    assert suspicious(j, [*backups, too_fast], zone=ZONE).startswith("suspicious backup")


def test_retention_of_a_listed_job() -> None:
    j = job(retention={"days": 7}, list={"command": "x"}, grace="1h")
    now = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
    daily = [Backup(now.replace(hour=2) - timedelta(days=i), source="list") for i in range(10)]
    state = assess(j, sorted(daily, key=lambda b: b.ts), now - timedelta(days=30), now, listed=True,
                   zone=ZONE)
    assert state.retention == ["3 backup(s) older than the 7-day retention still kept (oldest "
                               "2026-03-11 03:00 CET)"]
    kept = sorted(daily[:7], key=lambda b: b.ts)
    assert assess(j, kept, now - timedelta(days=30), now, listed=True, zone=ZONE).retention == []
    gap = [b for b in kept if b.ts.day not in (15, 16)]
    assert assess(j, gap, now - timedelta(days=30), now, listed=True, zone=ZONE).retention == [
        "only 5 good backup(s) kept where the schedule and policy expect 7"]
    counted = job(retention={"count": 3}, list={"command": "x"})
    assert assess(counted, kept, now - timedelta(days=30), now, listed=True, zone=ZONE).retention == [
        "7 backups kept, the policy keeps 3"]


def test_a_listed_job_without_a_heartbeat_misses_its_schedule() -> None:
    j = BackupJob.model_validate({"name": "db", "component": "db", "schedule": "0 2 * * *", "grace": "1h",
                                  "list": {"command": "x"}})
    last = [Backup(T0 + timedelta(minutes=5), source="list")]
    due = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
    assert assess(j, last, T0, due - timedelta(seconds=1), zone=ZONE).missed == ""
    assert assess(j, last, T0, due, zone=ZONE).missed == (
        "missed schedule: no backup since 2026-03-01 03:05 CET; one was due at 2026-03-02 03:00 CET "
        "(grace 1h)")


def test_drill_state() -> None:
    j = job(rto="10m", drill={"schedule": "0 4 * * 0", "grace": "6h", "command": "true"})
    assert j.drill is not None
    sunday = datetime(2026, 3, 8, 4, 0, tzinfo=UTC)
    watched = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert not drill_state(j.drill, j.rto, None, watched, sunday + timedelta(hours=5), zone=ZONE).overdue
    overdue = drill_state(j.drill, j.rto, None, watched, sunday + timedelta(hours=6), zone=ZONE).overdue
    assert overdue == "restore drill overdue: none since the one due 2026-03-08 05:00 CET (grace 6h)"
    passed = drill_state(j.drill, j.rto, Drill(sunday, ok=True, rto_s=300), watched,
                         sunday + timedelta(days=3), zone=ZONE).result()
    assert passed.ok and passed.message == "last drill 2026-03-08 05:00 CET passed, RTO 300.0 s"
    slow = drill_state(j.drill, j.rto, Drill(sunday, ok=True, rto_s=900), watched, sunday, zone=ZONE)
    assert slow.rto_exceeded and "restore took 900.0 s, over the RTO target 10m" in slow.result().message
    failed = drill_state(j.drill, j.rto, Drill(sunday, ok=False, rto_s=None, error="boom"), watched, sunday,
                         zone=ZONE)
    assert failed.failed and not failed.result().ok
    assert failed.result().message == "restore drill of 2026-03-08 05:00 CET failed: boom"
    summer = datetime(2026, 7, 5, 4, 0, tzinfo=UTC)  # a Sunday in summer time: the zone's other name
    failed_in_summer = drill_state(j.drill, j.rto, Drill(summer, ok=False, rto_s=None, error="boom"), watched,
                                   summer, zone=ZONE)
    assert failed_in_summer.result().message == "restore drill of 2026-07-05 06:00 CEST failed: boom"
