"""muted_by, Mutes.next_change and newly_unmuted: which silence or window mutes an alert, and until when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from opsbook.silences.matchers import AlertAttrs, parse_matcher
from opsbook.silences.mute import Mutes, OneOffWindow, Silence, all_mutes, muted_by, newly_unmuted
from opsbook.silences.windows import RecurringWindow

T0 = datetime(2024, 1, 7, 1, 0, tzinfo=UTC)  # a Sunday, 01:00 UTC
H = timedelta(hours=1)

API_P2 = AlertAttrs(service="api", check="health", rule="failures", severity="P2")
API_P1 = AlertAttrs(service="api", check="health", rule="failures", severity="P1")
DB_P3 = AlertAttrs(service="db", check="conn", rule="conn-pool", severity="P3")

DEPLOY = Silence(1, (parse_matcher("service=api"), parse_matcher("severity=~P[23]")), T0, T0 + 2 * H,
                 "alice", "deploy")
SUNDAY_DB = RecurringWindow("sunday-db", "0 2 * * 0", 2 * H, "UTC", title="Weekly database maintenance",
                            matchers=(parse_matcher("service=db"),))
ONE_OFF = OneOffWindow(7, ("api",), T0 + 3 * H, T0 + 4 * H, title="API migration", created_by="bob")


def test_silence_mutes_only_matching_alerts_while_active() -> None:
    reason = muted_by(API_P2, [DEPLOY], [], T0)
    assert reason is not None
    assert (reason.kind, reason.ref, reason.until, reason.title, reason.created_by) == (
        "silence", "silence:1", T0 + 2 * H, "deploy", "alice")
    assert muted_by(API_P1, [DEPLOY], [], T0) is None  # P1 not matched
    assert muted_by(DB_P3, [DEPLOY], [], T0) is None
    assert muted_by(API_P2, [DEPLOY], [], T0 - timedelta(seconds=1)) is None  # pending
    assert muted_by(API_P2, [DEPLOY], [], T0 + 2 * H) is None  # ended (end is exclusive)
    assert muted_by(API_P2, [DEPLOY], [], T0 + 2 * H - timedelta(microseconds=1)) is not None


def test_expired_silence_no_longer_mutes() -> None:
    expired = Silence(2, DEPLOY.matchers, T0, T0 + 2 * H, expired_at=T0 + H)
    assert muted_by(API_P2, [expired], [], T0 + H - timedelta(seconds=1)) is not None
    assert muted_by(API_P2, [expired], [], T0 + H) is None
    assert expired.state(T0 + H) == "expired"
    assert expired.state(T0) == "active"
    assert Silence(3, DEPLOY.matchers, T0 + H, T0 + 2 * H).state(T0) == "pending"


def test_recurring_window_mutes_during_occurrences() -> None:
    assert muted_by(DB_P3, [], [SUNDAY_DB], T0) is None  # 01:00: before
    reason = muted_by(DB_P3, [], [SUNDAY_DB], T0 + H)  # 02:00
    assert reason is not None
    assert (reason.kind, reason.ref, reason.until, reason.title) == (
        "maintenance", "maintenance:sunday-db", T0 + 3 * H, "Weekly database maintenance")
    assert muted_by(API_P2, [], [SUNDAY_DB], T0 + H) is None  # other service
    assert muted_by(DB_P3, [], [SUNDAY_DB], T0 + 3 * H) is None  # 04:00: over


def test_one_off_window() -> None:
    assert muted_by(API_P1, [], [ONE_OFF], T0 + 3 * H - timedelta(seconds=1)) is None
    reason = muted_by(API_P1, [], [ONE_OFF], T0 + 3 * H)
    assert reason is not None and reason.ref == "maintenance:#7" and reason.until == T0 + 4 * H
    assert muted_by(DB_P3, [], [ONE_OFF], T0 + 3 * H) is None
    cancel_at = T0 + 3 * H + timedelta(minutes=5)
    cancelled = OneOffWindow(7, ("api",), T0 + 3 * H, T0 + 4 * H, cancelled_at=cancel_at)
    assert muted_by(API_P1, [], [cancelled], T0 + 3 * H + timedelta(minutes=5)) is None


def test_silences_come_first_then_longest() -> None:
    short = Silence(4, (parse_matcher("service=api"),), T0, T0 + 30 * timedelta(minutes=1), comment="short")
    window = OneOffWindow(8, ("api",), T0, T0 + 10 * H, title="long maintenance")
    reasons = all_mutes(API_P2, [short, DEPLOY], [window], T0)
    assert [r.ref for r in reasons] == ["silence:1", "silence:4", "maintenance:#8"]
    assert muted_by(API_P2, [short, DEPLOY], [window], T0) == reasons[0]


def test_next_change_walks_every_boundary() -> None:
    pending = Silence(5, (parse_matcher("service=api"),), T0 + 5 * H, T0 + 6 * H)
    mutes = Mutes(silences=(DEPLOY, pending), windows=(SUNDAY_DB, ONE_OFF))
    seen = []
    t = T0 - H
    while (change := mutes.next_change(t)) is not None and change <= T0 + 7 * H:
        seen.append(change)
        t = change
    assert seen == [T0, T0 + H, T0 + 2 * H, T0 + 3 * H, T0 + 4 * H, T0 + 5 * H, T0 + 6 * H]
    assert Mutes().next_change(T0) is None


def test_newly_unmuted_after_a_silence_ends() -> None:
    firing = {"api/health/failures": API_P2, "db/conn/conn-pool": DB_P3, "api/other": API_P1}
    before = Mutes(silences=(DEPLOY,), windows=(SUNDAY_DB,))
    muted_keys = {k for k, a in firing.items() if before.muted_by(a, T0 + H) is not None}
    assert muted_keys == {"api/health/failures", "db/conn/conn-pool"}
    # At 03:00 the silence has ended and the window still runs: only the API alert notifies now.
    assert newly_unmuted(firing, muted_keys, before, T0 + 2 * H) == ["api/health/failures"]
    # At 04:00 the window has ended too.
    both = ["api/health/failures", "db/conn/conn-pool"]
    assert newly_unmuted(firing, muted_keys, before, T0 + 3 * H) == both
    # An alert that resolved meanwhile is not in `alerts_firing` and never notifies.
    assert newly_unmuted({"db/conn/conn-pool": DB_P3}, muted_keys, before, T0 + 3 * H) == both[1:]
    # Expiring a silence early: the mutes now carry the expiry.
    expired = Silence(1, DEPLOY.matchers, DEPLOY.starts_at, DEPLOY.ends_at, expired_at=T0 + H / 2)
    assert newly_unmuted(firing, muted_keys, Mutes(silences=(expired,)), T0 + H) == both


@settings(max_examples=100, deadline=None)
@given(start=st.integers(0, 100), length=st.integers(1, 100), probe=st.integers(-10, 220))
def test_a_silence_mutes_exactly_in_its_interval(start: int, length: int, probe: int) -> None:
    m = timedelta(minutes=1)
    silence = Silence(9, (parse_matcher("service=api"),), T0 + start * m, T0 + (start + length) * m)
    assert (muted_by(API_P2, [silence], [], T0 + probe * m) is not None) == (start <= probe < start + length)
