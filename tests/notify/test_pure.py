"""Pure parts: backoff, give-up, token buckets, templates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from opsbook.notify.config import RateLimit, RetryPolicy, TemplateOverride, Templates
from opsbook.notify.ratelimit import RateLimiter, TokenBucket
from opsbook.notify.retry import backoff_delay, should_give_up
from opsbook.notify.templates import check_template, render

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def test_backoff_doubles_from_five_seconds_up_to_ten_minutes() -> None:
    policy = RetryPolicy()
    waits = [backoff_delay(n, policy, 0.0).total_seconds() for n in range(1, 13)]
    assert waits == [5, 10, 20, 40, 80, 160, 320, 600, 600, 600, 600, 600]
    assert backoff_delay(10_000, policy, 0.0) == timedelta(minutes=10)


@given(failures=st.integers(1, 200), rand=st.floats(0, 1, exclude_max=True), jitter=st.floats(0, 1))
def test_jitter_only_shortens_a_wait_by_up_to_its_share(failures: int, rand: float, jitter: float) -> None:
    policy = RetryPolicy(jitter=jitter)
    full = backoff_delay(failures, policy.model_copy(update={"jitter": 0.0}), 0.0)
    wait = backoff_delay(failures, policy, rand)
    assert full * (1 - jitter) - timedelta(microseconds=2) <= wait <= full
    assert wait <= policy.cap


def test_give_up_after_max_attempts_or_max_age() -> None:
    policy = RetryPolicy(max_attempts=3, max_age=timedelta(hours=1))
    assert not should_give_up(2, timedelta(minutes=59), policy)
    assert should_give_up(3, timedelta(0), policy)
    assert should_give_up(1, timedelta(hours=1), policy)


def test_token_bucket_allows_a_burst_then_one_per_interval() -> None:
    bucket = TokenBucket(3, timedelta(minutes=1))
    assert [bucket.try_take(T0) for _ in range(4)] == [True, True, True, False]
    assert bucket.next_available(T0) == T0 + timedelta(seconds=20)
    assert not bucket.try_take(T0 + timedelta(seconds=19))
    assert bucket.try_take(T0 + timedelta(seconds=20))
    # a long quiet spell refills to the capacity, never beyond
    later = T0 + timedelta(hours=1)
    assert [bucket.try_take(later) for _ in range(4)] == [True, True, True, False]


@given(st.lists(st.integers(0, 600), min_size=1, max_size=60))
def test_a_limiter_never_lets_more_than_the_limit_through_in_any_window(offsets: list[int]) -> None:
    limit = RateLimit(count=5, per=timedelta(seconds=60))
    limiter = RateLimiter()
    passed: list[datetime] = []
    for offset in sorted(offsets):
        now = T0 + timedelta(seconds=offset)
        if limiter.acquire("c", limit, now) is None:
            passed.append(now)
        else:
            assert limiter.acquire("c", limit, now) is not None  # still no token at the same instant
    # a token bucket of 5 per minute lets at most 5 + (window / 12 s) through in any window
    for i, start in enumerate(passed):
        inside = [t for t in passed[i:] if t < start + timedelta(seconds=60)]
        assert len(inside) <= 5 + 5


def test_unlimited_channel_always_passes() -> None:
    assert RateLimiter().acquire("c", None, T0) is None


CTX = {
    "service": "api",
    "check": "health",
    "severity": "P1",
    "summary": "api health check failed 3 times",
    "value": 3,
    "threshold": 3,
    "since": datetime(2026, 1, 5, 8, 55, tzinfo=UTC),
    "runbook": "https://wiki.example.com/runbooks/api-down",
    "link": "http://opsbook.example.com/alerts/17",
}


def test_default_firing_message_has_everything_a_responder_needs() -> None:
    msg = render("firing", CTX, timezone="Europe/Berlin")
    assert msg.subject == "[P1] FIRING: api/health: api health check failed 3 times"
    for line in (
        "Service:  api",
        "Check:    health",
        "Severity: P1",
        "Value:    3 (threshold 3)",
        "Since:    2026-01-05 09:55:00 CET",
        "Runbook:  https://wiki.example.com/runbooks/api-down",
        "Details:  http://opsbook.example.com/alerts/17",
    ):
        assert line in msg.body.splitlines(), msg.body


def test_resolved_message_says_for_how_long() -> None:
    msg = render("resolved", {**CTX, "resolved_at": datetime(2026, 1, 5, 10, 5, 30, tzinfo=UTC)})
    assert msg.subject.startswith("[P1] RESOLVED: api/health")
    assert "Resolved: 2026-01-05 10:05:30 UTC (after 1 h 10 min)" in msg.body


def test_missing_values_render_as_absent_lines() -> None:
    msg = render("firing", {"service": "db", "severity": "P2", "summary": "down"})
    assert msg.subject == "[P2] FIRING: db: down"
    assert "Check:" not in msg.body and "Value:" not in msg.body and "Runbook:" not in msg.body


def test_overrides_replace_subject_or_body_and_broken_ones_fall_back() -> None:
    templates = Templates(firing=TemplateOverride(subject="{{ severity }} {{ service|upper }}"))
    msg = render("firing", CTX, templates)
    assert msg.subject == "P1 API"
    assert "Service:  api" in msg.body  # the default body is kept
    broken = Templates(firing=TemplateOverride(body="{{ summary }} {{ 1 // 0 }}"))
    msg = render("firing", CTX, broken)
    assert "Service:  api" in msg.body
    assert "the custom firing body template failed" in msg.body


def test_check_template_reports_the_line() -> None:
    assert check_template("ok {{ x }}") is None
    problem = check_template("line one\n{% for x in y %}")
    assert problem is not None and problem.startswith("template line 2")


def test_templates_are_sandboxed() -> None:
    msg = render(
        "test",
        {"channel": "c", "now": T0},
        Templates(test=TemplateOverride(body="{{ ''.__class__.__mro__ }}")),
    )
    assert "failed" in msg.body and "object" not in msg.body.split("(the custom")[0]
