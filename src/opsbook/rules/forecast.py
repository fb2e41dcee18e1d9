"""The forecast condition of rules: `days_until(disk_pct:/data >= 90) < 14`. Pure.

`days_until(FIELD >= LEVEL)` is the number of days until the trend of FIELD (a Theil–Sen line through
its hourly means over the capacity history, opsbook.capacity.forecast) reaches LEVEL; the rule compares
it like any value:

    days_until(disk_pct:/data >= 90) < 14          the disk reaches 90 % within two weeks
    days_until(connections_pct > 80) <= 7 for 1h

A value already at the level is 0 days away. A flat or falling trend, or too little history, has no date:
the condition is false and the alert's message says why. The history (points, how far back to fit, the
scaling plan's actions) is handed in by whoever evaluates (the alert engine reads it from the capacity
domain's hour rollups); this module only parses and decides.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from opsbook.capacity.forecast import NoTrend, Trend, fit
from opsbook.timefmt import show_time

if TYPE_CHECKING:
    from opsbook.rules.evaluate import Evaluation
    from opsbook.rules.expr import Expr, Operand

FUNCTION = "days_until"
RISING = (">=", ">")


@dataclass(frozen=True)
class History:
    """What a forecast rule is evaluated over: one value's hourly means and how to speak of them."""

    points: Sequence[tuple[datetime, float]]
    history: timedelta = timedelta(days=14)
    min_history: timedelta = timedelta(days=3)
    label: str = ""  # how people call the resource ("db /data"); default the field's name
    unit: str = ""  # "%", " GB" ... appended to numbers
    actions: Mapping[float, str] = field(default_factory=dict)  # level → the scaling plan's action
    timezone: str = "UTC"

    def action_for(self, level: float) -> str:
        """The plan's action of the highest planned level at or below `level` ('' if none)."""
        planned = [at for at in self.actions if at <= level]
        return self.actions[max(planned)] if planned else ""


HistoryReader = Callable[[Any, str, "Operand", datetime], "History | None"]
"""(session, check id, operand, now) → the history of the operand's field, or None if none is kept."""


def parse_operand(parser: Any) -> Operand:
    """`days_until(FIELD OP NUMBER)`, the parser just past the name (opsbook.rules.expr._Parser)."""
    from opsbook.rules.expr import Operand

    parser.expect_punct("(", "after days_until")
    field_tok = parser.tok
    if field_tok.kind != "ident":
        raise parser.error(
            f"expected a value name inside days_until(...), e.g. days_until(disk_pct:/data >= 90), "
            f"found {parser.describe(field_tok)}"
        )
    parser.advance()
    op_tok = parser.tok
    if op_tok.kind != "cmp" or op_tok.text not in RISING:
        raise parser.error(f"days_until(...) forecasts a rising value: write {field_tok.text} >= LEVEL "
                           f"(or >), found {parser.describe(op_tok)}")
    parser.advance()
    level_tok = parser.tok
    if level_tok.kind != "number":
        raise parser.error(f"expected the level after {op_tok.text!r}, found {parser.describe(level_tok)}")
    parser.advance()
    if parser.tok.kind == "punct" and parser.tok.text == "%":
        parser.advance()
    parser.expect_punct(")", "to close days_until(")
    return Operand("forecast", FUNCTION, field_tok.text, target_op=op_tok.text, target=float(level_tok.text))


def operand_text(operand: Operand) -> str:
    from opsbook.rules.expr import format_number

    return f"{FUNCTION}({operand.field} {operand.target_op} {format_number(operand.target or 0)})"


def evaluate(expr: Expr, history: History | None, now: datetime) -> Evaluation:
    """Days until the operand's level is reached, compared with the rule's threshold."""
    from opsbook.rules.evaluate import Evaluation

    operand = expr.operand
    level = operand.target or 0.0
    if history is None:
        return Evaluation(False, None, expr.threshold,
                          f"{operand_text(operand)}: no history is kept for {operand.field}")
    label = history.label or operand.field
    trend = fit(history.points, now, history.history, history.min_history)
    if isinstance(trend, NoTrend):
        return Evaluation(False, None, expr.threshold, f"{label}: no forecast, {trend.reason}")
    days = trend.days_until(level)
    if days is None:
        return Evaluation(False, None, expr.threshold,
                          f"{label} is not rising ({_trend_text(trend, history)}): it does not reach "
                          f"{_num(level)}{history.unit}")
    return Evaluation(expr.compare(days), round(days, 1), expr.threshold,
                      describe(trend, level, history, label))


def describe(trend: Trend, level: float, history: History, label: str) -> str:
    """'db /data reaches 90 % around 2026-03-18 CET, in 9 days (trend +2.1 %/day over 14 days, R² 0.99);
    plan: increase volume or delete old data' (the date in the team's zone, named)."""
    when = trend.reaches(level)
    assert when is not None
    date = show_time(when, history.timezone, fmt="%Y-%m-%d")
    days = (when - trend.at).total_seconds() / 86400
    soon = "now" if days <= 0 else f"in {days:.0f} day{'s' if round(days) != 1 else ''}"
    text = (f"{label} reaches {_num(level)}{history.unit} around {date}, {soon} "
            f"({_trend_text(trend, history)})")
    action = history.action_for(level)
    return f"{text}; plan: {action}" if action else text


def _trend_text(trend: Trend, history: History) -> str:
    days = trend.span.total_seconds() / 86400
    return (f"trend {trend.slope_per_day:+.1f}{history.unit}/day over {days:.0f} days, "
            f"R² {trend.r2:.2f}")


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
