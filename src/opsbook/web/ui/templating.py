"""The Jinja2 environment of every page and of the status page: autoescaped, with a few formatting filters."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape

from opsbook.incidents.words import escalation_step, timeline_label
from opsbook.timefmt import show_span, show_time
from opsbook.words import unnumbered

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
STATIC = Path(__file__).resolve().parent.parent / "static"


def fmt_dt(value: datetime | None, timezone: str = "UTC", fmt: str = "%Y-%m-%d %H:%M") -> str:
    """`{{ t | dt(tz) }}`: `2026-03-09 04:01 CET`, the time in the team's zone with the zone's abbreviation
    (`fmt` is the strftime pattern before it; a pattern with its own `%Z` gets no second one)."""
    if value is not None and "%Z" in fmt:
        return value.astimezone(ZoneInfo(timezone)).strftime(fmt)
    return show_time(value, timezone, fmt=fmt)


def fmt_ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


def fmt_pct(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}%"


def make_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html", "xml", "atom"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["dt"] = fmt_dt
    env.filters["duration"] = show_span  # 45 s, 2 h 5 min, 5 d 1 h
    env.filters["ms"] = fmt_ms
    env.filters["pct"] = fmt_pct
    env.filters["event"] = timeline_label  # all_alerts_resolved -> All alerts resolved
    env.filters["step_title"] = unnumbered  # "1. Check the health endpoint" -> "Check the health endpoint"
    env.globals["escalation_step"] = escalation_step  # level 1, level 2, round 2, reminder 1
    return env


environment = make_environment()
