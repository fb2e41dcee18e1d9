"""Cron expressions in opsbook.yaml (heartbeats, maintenance windows), checked the same way everywhere.

Five fields, `minute hour day month weekday`, or an alias (`@daily`, `@weekly`…). Beyond what croniter
accepts, a range must not be empty (`1-0` would otherwise match every value) and the expression must fire.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator

ALIASES = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}
FIELDS = ("minute", "hour", "day of month", "month", "weekday")
_NAMES = {
    3: {m: i for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)},
    4: {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])},
}
_RANGE = re.compile(r"^(\w+)-(\w+)(?:/\d+)?$")
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _value(text: str, position: int) -> int | None:
    if text.isdigit():
        return int(text)
    return _NAMES.get(position, {}).get(text.lower())


def check_cron(expr: str) -> str:
    """The expression with aliases expanded and spaces normalised, or ValueError saying what is wrong."""
    # croniter (with dateutil) is loaded by the first check, not with the config's classes: a command
    # handed a validated config by opsbook.config.cache checks none
    from croniter import CroniterBadCronError, CroniterBadDateError, CroniterError, croniter

    text = " ".join(str(expr).split())
    text = ALIASES.get(text.lower(), text)
    fields = text.split(" ")
    if len(fields) != 5:
        raise ValueError(f"{expr!r} is not a cron expression: use 5 fields 'minute hour day month weekday'")
    for position, field in enumerate(fields):
        for part in field.split(","):
            match = _RANGE.match(part)
            if not match:
                continue
            low, high = _value(match[1], position), _value(match[2], position)
            if low is not None and high is not None and low > high:
                raise ValueError(f"{expr!r}: the {FIELDS[position]} range {match[1]}-{match[2]} is empty "
                                 f"(write it low-high)")
    try:
        croniter(text, _EPOCH).get_next(datetime)
    except CroniterBadDateError:
        raise ValueError(f"cron expression {expr!r} never fires") from None
    except (CroniterBadCronError, CroniterError, ValueError, KeyError, OverflowError) as exc:
        raise ValueError(f"{expr!r} is not a valid cron expression: {exc}") from None
    return text


Cron = Annotated[str, AfterValidator(check_cron)]
"""A cron expression field of opsbook.yaml, checked by `check_cron` when the file is loaded."""
