"""The rule expression syntax: a parser from `when:` strings to `Expr` values.

A rule is one comparison over a check's recent results, optionally held for a duration:

    failures >= 3                                  3 or more consecutive failed (down) results
    p95(latency_ms) > 500 for 5m                   p95 of the latencies of the last 5 minutes > 500 ms,
                                                   continuously for 5 minutes
    p95(latency_ms over 10m) > 500 for 5m          the same with an explicit 10-minute window
    avg(latency_ms) > 300 over 10m                 window given after the threshold (no `for`: fires at once)
    error_rate > 10% over 5m for 5m                share of down results in the last 5 minutes, in percent
    cpu_pct > 80 for 5m                            the latest measured `cpu_pct` above 80, for 5 minutes
    days_left < 14                                 the latest `days_left` (TLS kind) below 14
    connections_pct > 80 for 2m
    heartbeat missing                              the check's latest result is down (a missed heartbeat)
    heartbeat missing for 10m
    days_until(disk_pct:/data >= 90) < 14          the trend of disk_pct:/data reaches 90 within 14 days
                                                   (opsbook.rules.forecast)

Grammar (keywords are case-insensitive; field names are the keys a check kind reports, plus `latency_ms`):

    rule      := condition [ "over" DURATION ] [ "for" DURATION ]
               | "heartbeat" "missing" [ "for" DURATION ]
    condition := operand CMP NUMBER [ "%" ]
    operand   := "failures"
               | "error_rate" [ "(" [ "over" DURATION ] ")" ]
               | FUNC "(" FIELD [ "over" DURATION ] ")"
               | FIELD                                   (same as last(FIELD))
    FUNC      := avg | min | max | sum | count | last | pNN   (pNN: any percentile, p50, p95, p99, p99.9)
    CMP       := > | >= | < | <= | == | !=
    DURATION  := 30s | 5m | 1h30m | 500ms | 2d ...

Meaning, precisely:
- `failures` is the number of consecutive `down` results, counted back from the newest one (degraded
  results are not failures). It takes no window.
- `error_rate` is 100 x (down results) / (all results) in the window; `%` after a number is decoration
  (`10%` and `10` both mean ten percent).
- An aggregate reads the field from every result in the window `(now - window, now]` that has it;
  `latency_ms` is the result's latency, any other name a measured value. pNN is the linearly interpolated
  percentile (numpy's default, Python's `statistics.quantiles(method="inclusive")`). With no value in the
  window the aggregate is unknown and the condition is false.
- `last(f)` (or a bare field name) is the newest value of `f` among the results read for the check.
- The window defaults to the `for` duration; an aggregate or error rate with neither `over` nor `for` is
  an error.
- `for D`: the condition must hold at every evaluation for D before the alert fires. The alert becomes
  pending at the first evaluation where the condition is true (time t) and fires at the first evaluation at
  or after t + D at which it is still true (see opsbook.alerts.state). Without `for` it fires at once.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Literal

from opsbook.config.types import format_duration, parse_duration
from opsbook.rules import forecast

OperandKind = Literal["failures", "error_rate", "aggregate", "heartbeat", "forecast"]

COMPARISONS = (">=", "<=", "==", "!=", ">", "<")
FUNCTIONS = ("avg", "min", "max", "sum", "count", "last")
_PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d+)?|100)$")

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<duration>\d+(?:\.\d+)?(?:ms|s|m|h|d|w)(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))*(?![A-Za-z0-9_.]))
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![A-Za-z0-9_]))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_.:/\-]*)
  | (?P<cmp>>=|<=|==|!=|>|<)
  | (?P<punct>[()%])
    """,
    re.VERBOSE,
)


class ExprError(ValueError):
    """A `when:` string that does not parse; `column` is 1-based."""

    def __init__(self, message: str, text: str, column: int) -> None:
        self.reason = message
        self.text = text
        self.column = column
        super().__init__(f"{message} at column {column} in {text!r}")


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # duration | number | ident | cmp | punct | end
    text: str
    pos: int  # 0-based offset


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            bad = re.match(r"\d+(?:\.\d+)?[A-Za-z]\w*", text[pos:])
            if bad:
                raise ExprError(f"{bad.group(0)!r} is neither a number nor a duration like 30s, 5m, 1h30m",
                                text, pos + 1)
            raise ExprError(f"unexpected character {text[pos]!r}", text, pos + 1)
        kind = m.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, m.group(0), pos))
        pos = m.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


@dataclass(frozen=True, slots=True)
class Operand:
    """What a rule measures."""

    kind: OperandKind
    func: str = ""  # aggregate: avg, min, max, sum, count, last or pNN
    field: str = ""  # aggregate: latency_ms or a measured value's name
    window: timedelta | None = None  # aggregate / error_rate: explicit window, if given
    target_op: str = ""  # forecast: days_until(field >= target)
    target: float | None = None

    @property
    def quantile(self) -> float | None:
        """0.95 for p95; None for other functions."""
        m = _PERCENTILE.match(self.func)
        return float(m.group(1)) / 100 if m else None

    @property
    def windowed(self) -> bool:
        return self.kind == "error_rate" or (self.kind == "aggregate" and self.func != "last")


@dataclass(frozen=True, slots=True)
class Expr:
    """A parsed rule expression."""

    text: str
    operand: Operand
    op: str = ""  # comparison; empty for `heartbeat missing`
    threshold: float | None = None
    percent: bool = False
    hold: timedelta = timedelta(0)  # the `for` duration

    @property
    def window(self) -> timedelta | None:
        """The window aggregates read: explicit, else the `for` duration; None if not windowed."""
        if not self.operand.windowed:
            return None
        return self.operand.window or self.hold or None

    def compare(self, value: float) -> bool:
        assert self.threshold is not None
        return compare(value, self.op, self.threshold)

    def operand_text(self) -> str:
        o = self.operand
        if o.kind == "failures":
            return "failures"
        if o.kind == "heartbeat":
            return "heartbeat missing"
        if o.kind == "forecast":
            return forecast.operand_text(o)
        if o.kind == "error_rate":
            return f"error_rate(over {format_duration(self.window or timedelta(0))})"
        if o.func == "last":
            return o.field
        return f"{o.func}({o.field} over {format_duration(self.window or timedelta(0))})"

    def canonical(self) -> str:
        """A normalized spelling: explicit windows, single spaces (parses back to an equal Expr)."""
        out = self.operand_text()
        if self.operand.kind != "heartbeat":
            out += f" {self.op} {format_number(self.threshold or 0)}{'%' if self.percent else ''}"
        if self.hold:
            out += f" for {format_duration(self.hold)}"
        return out

    def describe_threshold(self) -> str:
        if self.operand.kind == "heartbeat":
            return "heartbeat missing"
        return f"{self.op} {format_number(self.threshold or 0)}{'%' if self.percent else ''}"


def format_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else f"{value:g}"


def compare(value: float, op: str, threshold: float) -> bool:
    if op == ">":
        return value > threshold
    if op == ">=":
        return value >= threshold
    if op == "<":
        return value < threshold
    if op == "<=":
        return value <= threshold
    if op == "==":
        return value == threshold
    if op == "!=":
        return value != threshold
    raise ValueError(f"unknown comparison {op!r}")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    # --- helpers ---
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        if tok.kind != "end":
            self.i += 1
        return tok

    def error(self, message: str, tok: Token | None = None) -> ExprError:
        tok = tok or self.tok
        return ExprError(message, self.text, tok.pos + 1)

    def describe(self, tok: Token) -> str:
        return "the end" if tok.kind == "end" else repr(tok.text)

    def is_word(self, word: str) -> bool:
        return self.tok.kind == "ident" and self.tok.text.lower() == word

    def expect_punct(self, char: str, context: str) -> None:
        if self.tok.kind == "punct" and self.tok.text == char:
            self.advance()
            return
        raise self.error(f"expected {char!r} {context}, found {self.describe(self.tok)}")

    def duration(self, after: str) -> timedelta:
        tok = self.tok
        if tok.kind == "duration":
            self.advance()
            value = parse_duration(tok.text)
            if value <= timedelta(0):
                raise self.error(f"the duration after {after!r} must be longer than 0", tok)
            return value
        if tok.kind == "number":
            raise self.error(f"{tok.text!r} after {after!r} needs a unit: e.g. {tok.text}s or {tok.text}m",
                             tok)
        raise self.error(f"expected a duration like 30s, 5m or 1h after {after!r}, "
                         f"found {self.describe(tok)}")

    # --- grammar ---
    def parse(self) -> Expr:
        if self.tok.kind == "end":
            raise self.error("the expression is empty; e.g. 'failures >= 3' or "
                             "'p95(latency_ms) > 500 for 5m'")
        if self.is_word("heartbeat"):
            return self.heartbeat()
        operand_tok = self.tok
        operand = self.operand()
        op_tok = self.tok
        what = self.text[operand_tok.pos:op_tok.pos].strip()
        if op_tok.kind != "cmp":
            raise self.error(
                f"expected a comparison (>, >=, <, <=, ==, !=) after {what!r}, found {self.describe(op_tok)}"
            )
        self.advance()
        num_tok = self.tok
        if num_tok.kind != "number":
            if num_tok.kind == "duration":
                raise self.error(f"the threshold {num_tok.text!r} must be a plain number (no unit)", num_tok)
            raise self.error(f"expected a number after {op_tok.text!r}, found {self.describe(num_tok)}")
        self.advance()
        threshold = float(num_tok.text)
        percent = False
        if self.tok.kind == "punct" and self.tok.text == "%":
            self.advance()
            percent = True
        if self.is_word("over"):
            over_tok = self.advance()
            if not operand.windowed:
                raise self.error(self._no_window(operand), over_tok)
            if operand.window is not None:
                raise self.error("the window is given twice (inside the parentheses and after 'over')",
                                 over_tok)
            operand = Operand(operand.kind, operand.func, operand.field, self.duration("over"))
        hold = self.hold()
        self.end()
        expr = Expr(self.text, operand, op_tok.text, threshold, percent, hold)
        if operand.windowed and expr.window is None:
            raise ExprError(
                f"{what!r} needs a window: add 'over 5m' or 'for 5m'",
                self.text, operand_tok.pos + 1,
            )
        return expr

    def heartbeat(self) -> Expr:
        self.advance()
        if not self.is_word("missing"):
            raise self.error(f"expected 'missing' after 'heartbeat', found {self.describe(self.tok)}")
        self.advance()
        hold = self.hold()
        self.end()
        return Expr(self.text, Operand("heartbeat"), hold=hold)

    def hold(self) -> timedelta:
        if self.is_word("for"):
            self.advance()
            return self.duration("for")
        return timedelta(0)

    def end(self) -> None:
        if self.tok.kind != "end":
            expected = "'for DURATION' or the end"
            raise self.error(f"expected {expected}, found {self.describe(self.tok)}")

    def _no_window(self, operand: Operand) -> str:
        if operand.kind == "failures":
            return "'failures' counts consecutive failed results and takes no window"
        if operand.kind == "forecast":
            return "days_until(...) fits the capacity history (capacity.history) and takes no window"
        return (f"'{operand.field}' is the latest value and takes no window; "
                f"use e.g. avg({operand.field} over 5m)")

    def operand(self) -> Operand:
        following = self.tokens[self.i + 1] if self.i + 1 < len(self.tokens) else self.tok
        if self.is_word(forecast.FUNCTION) and following.text == "(":
            self.advance()
            return forecast.parse_operand(self)
        return self.measured()

    def measured(self) -> Operand:
        tok = self.tok
        if tok.kind != "ident":
            raise self.error(
                f"expected what to measure (failures, error_rate, p95(latency_ms), a value name), "
                f"found {self.describe(tok)}"
            )
        self.advance()
        name = tok.text
        lowered = name.lower()
        is_call = self.tok.kind == "punct" and self.tok.text == "("
        if lowered == "failures":
            if is_call:
                raise self.error("'failures' takes no arguments: write 'failures >= 3'")
            return Operand("failures")
        if lowered == "error_rate":
            window = None
            if is_call:
                self.advance()
                if self.is_word("over"):
                    self.advance()
                    window = self.duration("over")
                self.expect_punct(")", "to close error_rate(")
            return Operand("error_rate", window=window)
        if not is_call:
            return Operand("aggregate", "last", name)
        if lowered not in FUNCTIONS and not _PERCENTILE.match(lowered):
            raise self.error(f"unknown function {name!r}; use one of {', '.join(FUNCTIONS)} or a percentile "
                             "like p50, p95, p99", tok)
        self.advance()
        field_tok = self.tok
        if field_tok.kind != "ident" or field_tok.text.lower() in ("over", "for"):
            raise self.error(f"expected a field name inside {name}(...), e.g. {name}(latency_ms), "
                             f"found {self.describe(field_tok)}")
        self.advance()
        window = None
        if self.is_word("over"):
            over_tok = self.advance()
            if lowered == "last":
                raise self.error("last(...) is the latest value and takes no window", over_tok)
            window = self.duration("over")
        self.expect_punct(")", f"to close {name}(")
        return Operand("aggregate", lowered, field_tok.text, window)


@lru_cache(maxsize=4096)
def parse(text: str) -> Expr:
    """Parse a `when:` string; ExprError (a ValueError) with the 1-based column of the problem."""
    if not isinstance(text, str):
        raise TypeError("a rule expression is a string")
    return _Parser(text).parse()


def failures_needed(expr: Expr) -> int:
    """How many newest results a `failures` rule must see to decide (at least 1)."""
    threshold = expr.threshold or 0
    if expr.op in (">",):
        return max(1, math.floor(threshold) + 1)
    return max(1, math.ceil(threshold))
