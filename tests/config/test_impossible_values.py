"""Values no check, window or rule can run with are refused when the file is loaded, with FILE:LINE."""

from __future__ import annotations

import pytest

from opsbook.config.cron import check_cron
from tests.config.test_loader import GOOD, errors


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("0", "must be longer than 0"),
        ("0s", "must be longer than 0"),
        ("-5", "cannot be negative"),
        ("99999999999999999d", "longer than ten years"),
        ("1.0e+400", "longer than ten years"),
        (".nan", "must be a number of seconds"),
        ("10x", "is not a duration"),
    ],
)
def test_an_impossible_interval_is_refused(value: str, says: str) -> None:
    found = errors(GOOD.replace("interval: 30s", f"interval: {value}"))
    assert len(found) == 1 and found[0].startswith("ops.yaml:7: services[0].checks[0].interval: ")
    assert says in found[0]


def test_zero_timeout_and_retention_are_refused() -> None:
    text = GOOD + "      - {name: t, kind: tcp, host: 127.0.0.1, port: 9, timeout: 0s}\n"
    text += "retention:\n  raw: 0s\n"
    found = errors(text)
    assert sorted(f.split(": ")[0] + ": " + f.split(": ")[1] for f in found) == [
        "ops.yaml:10: retention.raw",
        "ops.yaml:8: services[0].checks[1].timeout",
    ]


def test_a_heartbeat_cron_with_an_empty_range_is_refused() -> None:
    text = GOOD + "      - {name: nightly, kind: heartbeat, cron: '1-0 * * * *'}\n"
    found = errors(text)
    assert len(found) == 1 and found[0].startswith("ops.yaml:8: services[0].checks[1].cron: ")
    assert "the minute range 1-0 is empty" in found[0]


@pytest.mark.parametrize(
    ("expr", "says"),
    [
        ("1-0 * * * *", "minute range 1-0 is empty"),
        ("0 23-1 * * *", "hour range 23-1 is empty"),
        ("0 2 * * fri-mon", "weekday range fri-mon is empty"),
        ("0 0 31 2 *", "never fires"),
        ("0 0 * *", "use 5 fields"),
        ("61 * * * *", "not a valid cron expression"),
    ],
)
def test_cron_checks(expr: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        check_cron(expr)


def test_good_crons_pass_and_aliases_expand() -> None:
    assert check_cron("0  2 * * sun") == "0 2 * * sun"
    assert check_cron("@daily") == "0 0 * * *"
    assert check_cron("*/15 9-17 * * mon-fri") == "*/15 9-17 * * mon-fri"
    assert check_cron("0 0 1-31/2 jan-dec *") == "0 0 1-31/2 jan-dec *"
