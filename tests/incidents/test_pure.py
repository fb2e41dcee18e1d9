"""Pure parts: SLA deadlines (incl. next business day across DST) and the config section."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opsbook.config.loader import parse_config
from opsbook.config.yamlpos import ConfigError
from opsbook.incidents import sla
from opsbook.incidents.config import NEXT_BUSINESS_DAY, SlaSettings
from opsbook.notify.config import BusinessHours

BERLIN = ZoneInfo("Europe/Berlin")
HOURS = BusinessHours()  # mon-fri 09:00-18:00


def berlin(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN).astimezone(UTC)


def test_default_slas_follow_the_runbooks() -> None:
    sla_ = SlaSettings()
    assert [sla_.for_severity(s) for s in ("P0", "P1", "P2", "P3", "P4")] == [
        timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1), NEXT_BUSINESS_DAY, None]
    opened = berlin(2026, 3, 6, 15, 0)
    assert sla.ack_deadline(sla_.P0, opened, HOURS, "Europe/Berlin") == opened + timedelta(minutes=5)
    assert sla.ack_deadline(None, opened, HOURS, "Europe/Berlin") is None


@pytest.mark.parametrize(("opened", "deadline"), [
    (berlin(2026, 3, 6, 15, 0), berlin(2026, 3, 9, 18, 0)),    # Friday afternoon → Monday end of day
    (berlin(2026, 3, 7, 11, 0), berlin(2026, 3, 9, 18, 0)),    # Saturday → Monday
    (berlin(2026, 3, 9, 8, 0), berlin(2026, 3, 10, 18, 0)),    # Monday before hours → Tuesday
    (berlin(2026, 3, 27, 23, 30), berlin(2026, 3, 30, 18, 0)),  # Friday night, DST starts on Sunday
])
def test_next_business_day_in_the_team_zone(opened: datetime, deadline: datetime) -> None:
    assert sla.ack_deadline(NEXT_BUSINESS_DAY, opened, HOURS, "Europe/Berlin") == deadline


@given(st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)))
def test_next_business_day_is_a_later_weekday_at_18_local(naive: datetime) -> None:
    opened = naive.replace(tzinfo=UTC)
    deadline = sla.next_business_day_end(opened, HOURS, "Europe/Berlin").astimezone(BERLIN)
    local = opened.astimezone(BERLIN)
    assert deadline.weekday() < 5 and (deadline.hour, deadline.minute) == (18, 0)
    assert 1 <= (deadline.date() - local.date()).days <= 3
    between = [local.date() + timedelta(days=d) for d in range(1, (deadline.date() - local.date()).days)]
    assert all(day.weekday() >= 5 for day in between)  # no business day was skipped


def test_breached() -> None:
    t = datetime(2026, 1, 5, 9, 5, tzinfo=UTC)
    assert not sla.breached(t, t - timedelta(seconds=1), None)
    assert sla.breached(t, t, None)
    assert not sla.breached(t, t, t - timedelta(minutes=1))
    assert sla.breached(t, t + timedelta(minutes=3), t + timedelta(minutes=2))
    assert not sla.breached(None, t, None)


def test_config_section_and_reference_errors() -> None:
    cfg = parse_config("incidents:\n  sla: {P3: none, P4: 2d, P1: next-business-day}\n  open_on: [p0, 1]\n",
                       "ops.yaml", {}).config.incidents
    assert (None, timedelta(days=2), NEXT_BUSINESS_DAY) == (cfg.sla.P3, cfg.sla.P4, cfg.sla.P1)
    assert cfg.opens("P1") and not cfg.opens("P2")
    with pytest.raises(ConfigError) as err:
        parse_config("channels: []\nincidents:\n  update_channels: [slack]\n  escalation:\n"
                     "    severity: {P0: critical}\n  sla: {P0: soon}\n", "ops.yaml", {})
    text = "\n".join(str(i) for i in err.value.issues)
    assert "ops.yaml:6: incidents.sla.P0" in text and "'soon' is not a response time" in text
    with pytest.raises(ConfigError) as err:
        parse_config("channels: []\nincidents:\n  update_channels: [slack]\n  escalation:\n"
                     "    severity: {P0: critical}\n", "ops.yaml", {})
    text = "\n".join(str(i) for i in err.value.issues)
    assert "ops.yaml:3: incidents.update_channels[0]: unknown channel 'slack'" in text
    assert "ops.yaml:5: incidents.escalation.severity.P0: unknown escalation policy 'critical'" in text
