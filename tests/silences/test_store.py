"""Silences and windows in the store on SQLite and PostgreSQL: create, list by state, expire, windows,
and the mutes the pipeline reads (the use cases around them: test_service.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from opsbook.auth.models import AuditRow
from opsbook.auth.roles import Principal, Role
from opsbook.config.loader import parse_config
from opsbook.db.engine import make_sessionmaker
from opsbook.errors import Invalid, NotFound
from opsbook.silences import service, store
from opsbook.silences.matchers import AlertAttrs, parse_matcher
from opsbook.silences.store import AlreadyEnded, SilenceError
from tests.silences.conftest import CONFIG

NOW = datetime(2024, 1, 6, 12, 0, tzinfo=UTC)  # Saturday noon
H = timedelta(hours=1)
ALICE = Principal("alice", Role.RESPONDER, "127.0.0.1")
API_P2 = AlertAttrs(service="api", check="health", severity="P2")
DB_P3 = AlertAttrs(service="db", check="conn", severity="P3")
LOADED = parse_config(CONFIG, "opsbook.yaml", {}).config
WINDOWS, SERVICES = LOADED.maintenance_windows, LOADED.services


def audit_rows(engine: Engine) -> int:
    with make_sessionmaker(engine)() as session:
        return session.scalar(select(func.count()).select_from(AuditRow)) or 0


def test_silence_lifecycle(engine: Engine) -> None:
    sessions = make_sessionmaker(engine)
    matchers = [parse_matcher("service=api"), parse_matcher('severity=~"P[23]"')]
    with sessions.begin() as session:
        active = store.create_silence(session, NOW, ALICE, matchers, ends_at=NOW + 2 * H,
                                        comment=" deploy ")
        pending = store.create_silence(session, NOW, ALICE, [parse_matcher("service=db")],
                                         starts_at=NOW + 5 * H, ends_at=NOW + 6 * H, comment="later")
        ids = active.id, pending.id
    with sessions() as session:
        row = store.get_silence(session, ids[0])
        assert row.comment == "deploy" and row.created_by == "alice" and row.created_at == NOW
        assert store.to_silence(row).matchers == tuple(matchers)
        assert row.starts_at == NOW and row.ends_at == NOW + 2 * H
        assert [r.id for r in store.list_silences(session, NOW, "active")] == [ids[0]]
        assert [r.id for r in store.list_silences(session, NOW, "pending")] == [ids[1]]
        assert store.list_silences(session, NOW, "expired") == []
        assert [r.id for r in store.list_silences(session, NOW)] == [ids[1], ids[0]]
        assert [r.id for r in store.list_silences(session, NOW + 2 * H, "expired")] == [ids[0]]
        assert [r.id for r in store.list_silences(session, NOW + 5 * H, "active")] == [ids[1]]
    with sessions.begin() as session:
        store.expire_silence(session, NOW + H, ALICE, ids[0])
    with sessions() as session:
        row = store.get_silence(session, ids[0])
        assert row.expired_at == NOW + H and row.expired_by == "alice"
        assert store.silence_state(row, NOW + H) == "expired"
        assert [r.id for r in store.list_silences(session, NOW + H, "expired")] == [ids[0]]
        assert store.list_silences(session, NOW + H, "active") == []
        with pytest.raises(AlreadyEnded):
            store.expire_silence(session, NOW + H, ALICE, ids[0])
        with pytest.raises(NotFound):
            store.expire_silence(session, NOW, ALICE, 999)
    assert audit_rows(engine) == 0  # the use cases write the audit rows (test_service.py)


@pytest.mark.parametrize(
    ("matchers", "kwargs", "message"),
    [
        (["service=api"], {"ends_at": NOW + H, "comment": "  "}, "needs a comment"),
        (["service=api"], {"ends_at": NOW - H, "comment": "x"}, "end in the future"),
        (["service=api"], {"ends_at": NOW + H, "starts_at": NOW + 2 * H, "comment": "x"}, "after it starts"),
        (["team!=db"], {"ends_at": NOW + H, "comment": "x"}, "would match every alert"),
        ([], {"ends_at": NOW + H, "comment": "x"}, "at least one matcher"),
        (["service=api"], {"ends_at": datetime(2030, 1, 1), "comment": "x"}, "time zone"),
    ],
)
def test_bad_silences_are_refused(sqlite_engine: Engine, matchers: list[str], kwargs: dict[str, object],
                                  message: str) -> None:
    with make_sessionmaker(sqlite_engine).begin() as session, pytest.raises(Invalid, match=message):
        store.create_silence(session, NOW, ALICE, [parse_matcher(m) for m in matchers], **kwargs)  # type: ignore[arg-type]


def test_maintenance_lifecycle(engine: Engine) -> None:
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        row = store.create_maintenance(session, NOW, ALICE, ["db", "api"], starts_at=NOW + H,
                                         ends_at=NOW + 3 * H, title="Upgrade", description="PostgreSQL 16",
                                         known_services={"api", "db"})
        later = store.create_maintenance(session, NOW, ALICE, ["api"], starts_at=NOW + 24 * H,
                                           ends_at=NOW + 25 * H, title="Later")
        ids = row.id, later.id
    with sessions() as session:
        listed = store.list_maintenance(session, NOW)
        assert [r.id for r in listed] == list(ids)
        assert listed[0].services == ["api", "db"] and listed[0].description == "PostgreSQL 16"
        assert [r.id for r in store.list_maintenance(session, NOW + 4 * H)] == [ids[1]]
        assert len(store.list_maintenance(session, NOW + 4 * H, include_past=True)) == 2
        with pytest.raises(SilenceError, match="unknown service 'nope'"):
            store.create_maintenance(session, NOW, ALICE, ["nope"], starts_at=NOW, ends_at=NOW + H,
                                       title="x", known_services={"api", "db"})
        with pytest.raises(SilenceError, match="title"):
            store.create_maintenance(session, NOW, ALICE, ["api"], starts_at=NOW, ends_at=NOW + H, title="")
        with pytest.raises(SilenceError, match="at least one service"):
            store.create_maintenance(session, NOW, ALICE, [], starts_at=NOW, ends_at=NOW + H, title="x")
    with sessions.begin() as session:
        store.cancel_maintenance(session, NOW + 2 * H, ALICE, ids[0])  # in progress: ends now
    with sessions() as session:
        assert [r.id for r in store.list_maintenance(session, NOW + 2 * H)] == [ids[1]]
        with pytest.raises(AlreadyEnded):
            store.cancel_maintenance(session, NOW + 2 * H, ALICE, ids[0])
        with pytest.raises(NotFound):
            store.get_maintenance(session, 999)


def test_active_mutes_load_silences_windows_and_config(engine: Engine) -> None:
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        store.create_silence(session, NOW, ALICE, [parse_matcher("service=api")], ends_at=NOW + H,
                               comment="deploy")
        gone = store.create_silence(session, NOW, ALICE, [parse_matcher("service=db")], ends_at=NOW + H,
                                      comment="expired one")
        store.expire_silence(session, NOW, ALICE, gone.id)
        store.create_maintenance(session, NOW, ALICE, ["api"], starts_at=NOW + 2 * H, ends_at=NOW + 3 * H,
                                   title="API move")
    with sessions() as session:
        mutes = service.active_mutes(session, NOW, WINDOWS)
    assert [s.comment for s in mutes.silences] == ["deploy"]
    reason = mutes.muted_by(API_P2, NOW)
    assert reason is not None and reason.kind == "silence"
    assert mutes.muted_by(DB_P3, NOW) is None  # its silence was expired
    assert mutes.muted_by(API_P2, NOW + H) is None
    reason = mutes.muted_by(API_P2, NOW + 2 * H)
    assert reason is not None and reason.title == "API move"
    sunday_0230 = datetime(2024, 1, 7, 2, 30, tzinfo=UTC)
    reason = mutes.muted_by(DB_P3, sunday_0230)
    assert reason is not None and reason.ref == "maintenance:sunday-db"
    with sessions() as session:
        boundaries = service.mute_boundaries(session, NOW, NOW + 24 * H, WINDOWS)
    assert boundaries == [NOW + H, NOW + 2 * H, NOW + 3 * H, datetime(2024, 1, 7, 2, tzinfo=UTC),
                          datetime(2024, 1, 7, 4, tzinfo=UTC)]


def test_upcoming_maintenance_merges_one_off_and_recurring(engine: Engine) -> None:
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        store.create_maintenance(session, NOW, ALICE, ["api"], starts_at=NOW - H, ends_at=NOW + H,
                                   title="Now", description="in progress")
        store.create_maintenance(session, NOW, ALICE, ["api"], starts_at=NOW + 40 * 24 * H,
                                   ends_at=NOW + 41 * 24 * H, title="Far away")
    with sessions() as session:
        found = service.upcoming_maintenance(
            session, NOW, WINDOWS, horizon=timedelta(days=14), services=SERVICES
        )
    assert [(m.ref, m.starts_at.date().isoformat(), m.in_progress) for m in found] == [
        ("maintenance:#1", "2024-01-06", True),
        ("maintenance:sunday-db", "2024-01-07", False),
        ("maintenance:sunday-db", "2024-01-14", False),
    ]
    assert found[1].title == "Weekly database maintenance" and found[1].services == ("db",)
    assert found[1].description == "Vacuum and reindex"
    with sessions() as session:
        during = service.upcoming_maintenance(
            session, datetime(2024, 1, 7, 3, tzinfo=UTC), WINDOWS, services=SERVICES
        )
    assert during[0].ref == "maintenance:sunday-db" and during[0].in_progress
