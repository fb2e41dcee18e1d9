"""The notification sections of opsbook.yaml and routing by severity (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opsbook.config.loader import parse_config
from opsbook.config.yamlpos import ConfigError
from opsbook.notify.config import BusinessHours, url_secrets
from opsbook.notify.routing import in_business_hours, next_business_start, route_for
from opsbook.rules.severity import Severity

CONFIG = """\
timezone: Europe/Berlin
channels:
  - name: ops-slack
    url: "${SLACK_URL}"
    rate_limit: 30/1m
  - name: email-oncall
    url: "mailtos://ops:pa55word99@smtp.example.com?to=oncall@example.com"
routing:
  P0: {action: page, channels: [ops-slack]}
  P3: {action: notify, channels: [email-oncall], business_hours_only: true}
business_hours: {days: [mon, tue, wed, thu, fri], from: "09:00", to: "18:00"}
grouping: {window: 30s, P1: 10s}
notifications:
  retry: {base: 2s, max_attempts: 5}
  templates:
    firing: {subject: "ALERT {{ service }}"}
"""
SLACK = "https://hooks.slack.com/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ"


def load(text: str = CONFIG, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return parse_config(text, "opsbook.yaml", env if env is not None else {"SLACK_URL": SLACK}).config


def errors(text: str) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        load(text)
    return [str(i) for i in exc.value.issues]


def test_sections_parse_with_defaults_filled_in() -> None:
    cfg = load()
    slack, _mail = cfg.channels
    assert slack.url == SLACK and slack.rate_limit is not None
    assert (slack.rate_limit.count, slack.rate_limit.per) == (30, timedelta(minutes=1))
    assert cfg.routing.P0.channels == ["ops-slack"]
    assert cfg.routing.P2.action == "notify" and cfg.routing.P2.channels is None  # default: every channel
    assert cfg.routing.P4.action == "log"
    assert cfg.business_hours.start == time(9) and cfg.business_hours.end == time(18)
    assert cfg.grouping.window_for("P0") == timedelta(0)
    assert cfg.grouping.window_for("P1") == timedelta(seconds=10)
    assert cfg.grouping.window_for("P2") == timedelta(seconds=30)
    assert cfg.notifications.retry.base == timedelta(seconds=2)
    assert cfg.notifications.retry.max_attempts == 5 and cfg.notifications.retry.cap == timedelta(minutes=10)


def test_an_empty_file_has_sane_defaults() -> None:
    cfg = load("{}\n")
    assert cfg.channels == []
    assert [cfg.routing.for_severity(s).action for s in Severity] == [
        "page",
        "page",
        "notify",
        "notify",
        "log",
    ]
    assert cfg.routing.P3.business_hours_only


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        (
            "channels:\n  - name: a\n    url: json://h/x\n    rate_limit: fast\n",
            "opsbook.yaml:4: channels[0].rate_limit: 'fast' is not a rate limit",
        ),
        (
            "channels:\n  - name: a\n    url: nosuchscheme://whatever\n",
            "opsbook.yaml:3: channels[0].url: not a URL Apprise can send to",
        ),
        (
            "channels:\n  - name: a\n    url: json://h/x\n  - name: a\n    url: json://h/y\n",
            "opsbook.yaml:4: channels[1].name: 'a' is used twice in channels",
        ),
        (
            "channels:\n  - name: a\n    url: json://h/x\nrouting:\n  P2: {action: notify, channels: [b]}\n",
            "opsbook.yaml:4: routing: P2: unknown channel 'b' (channels defined: a)",
        ),
        (
            "routing:\n  P4: {action: log, channels: [a]}\n",
            "opsbook.yaml:2: routing.P4: action 'log' sends nothing",
        ),
        ("routing:\n  P5: {action: log}\n", "opsbook.yaml:2: routing.P5: unknown field"),
        (
            "business_hours: {from: '18:00', to: '09:00'}\n",
            "opsbook.yaml:1: business_hours: 'to' must be later",
        ),
        ("business_hours: {days: [funday]}\n", "opsbook.yaml:1: business_hours.days[0]"),
        (
            "notifications:\n  templates:\n    firing: {body: '{% if x %}open'}\n",
            "opsbook.yaml:3: notifications.templates.firing: body: template line 1",
        ),
        (
            "notifications: {lease: 10s, send_timeout: 30s}\n",
            "opsbook.yaml:1: notifications: 'lease' must be longer",
        ),
    ],
)
def test_errors_name_file_line_and_field(snippet: str, expected: str) -> None:
    found = errors(snippet)
    assert any(e.startswith(expected) for e in found), found


def test_a_bad_url_is_never_echoed_in_the_error() -> None:
    found = errors("channels:\n  - name: a\n    url: nosuchscheme://user:pa55word99@host/s3cr3tT0ken99\n")
    assert not any("pa55word99" in e or "s3cr3tT0ken99" in e for e in found)


def test_url_secrets_cover_credentials_wherever_apprise_puts_them() -> None:
    assert {"TIiajkdnlazkcOXrIdevi7FQ", "A1BRTD4JD", "T1JJ3T3L2"} <= url_secrets(SLACK)
    assert "hooks.slack.com" not in url_secrets(SLACK) and "services" not in url_secrets(SLACK)
    assert "pa55word99" in url_secrets("mailtos://ops:pa55word99@smtp.example.com")
    assert "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" in url_secrets(
        "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/-100123"
    )
    assert "qu3ryT0ken42" in url_secrets("json://h/x?token=qu3ryT0ken42")


BERLIN = "Europe/Berlin"
# 2026-01-05 is a Monday
MON_0830_BERLIN = datetime(2026, 1, 5, 7, 30, tzinfo=UTC)


def test_routing_follows_severity_and_holds_p3_until_business_hours() -> None:
    cfg = load()
    p0 = route_for(cfg, Severity.P0, MON_0830_BERLIN)
    assert (p0.action, p0.channels, p0.send_after, p0.group_window) == (
        "page",
        ("ops-slack",),
        None,
        timedelta(0),
    )
    p2 = route_for(cfg, "P2", MON_0830_BERLIN)
    assert p2.channels == ("ops-slack", "email-oncall") and p2.group_window == timedelta(seconds=30)
    p3 = route_for(cfg, "p3", MON_0830_BERLIN)
    assert p3.channels == ("email-oncall",)
    assert p3.send_after == datetime(2026, 1, 5, 8, 0, tzinfo=UTC)  # 09:00 Berlin
    during = route_for(cfg, "P3", datetime(2026, 1, 5, 12, 0, tzinfo=UTC))
    assert during.send_after is None
    friday_evening = datetime(2026, 1, 9, 17, 30, tzinfo=UTC)  # 18:30 Berlin
    assert route_for(cfg, "P3", friday_evening).send_after == datetime(2026, 1, 12, 8, 0, tzinfo=UTC)
    p4 = route_for(cfg, "P4", MON_0830_BERLIN)
    assert (p4.action, p4.channels) == ("log", ())


@given(
    instant=st.datetimes(
        min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
    ),
    days=st.lists(
        st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]), min_size=1, unique=True
    ),
    start_hour=st.integers(0, 22),
    length=st.integers(1, 8),
    zone=st.sampled_from(["UTC", BERLIN, "America/New_York", "Asia/Kolkata", "Australia/Sydney"]),
)
def test_next_business_start_is_the_first_business_instant(
    instant: datetime, days: list[str], start_hour: int, length: int, zone: str
) -> None:
    end_hour = min(24, start_hour + length)
    hours = BusinessHours.model_validate(
        {
            "days": days,
            "from": f"{start_hour:02d}:00",
            "to": f"{end_hour:02d}:00" if end_hour < 24 else "24:00",
        }
    )
    start = next_business_start(instant, hours, zone)
    assert start >= instant
    assert in_business_hours(start, hours, zone)
    if start > instant:
        # nothing between: one minute before the start is outside business hours
        assert not in_business_hours(max(instant, start - timedelta(minutes=1)), hours, zone)
        local = start.astimezone(ZoneInfo(zone))
        assert local.minute == 0 or local.hour != start_hour  # on the hour, unless moved by a DST gap
