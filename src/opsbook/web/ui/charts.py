"""Charts drawn on the server as SVG (no JavaScript library): latency lines and uptime bars. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup, escape


@dataclass(frozen=True)
class Series:
    name: str
    colour: str
    points: Sequence[tuple[datetime, float | None]]  # a gap where None


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    for step in (1, 2, 5, 10, 20, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000):
        if value <= step:
            return float(step)
    return value


def line_chart(
    series: Sequence[Series], start: datetime, end: datetime, unit: str = "ms",
    width: int = 900, height: int = 220, time_format: str = "%H:%M",
) -> Markup:
    """An SVG of lines over [start, end) with a y axis from 0 to a round maximum and 5 time labels."""
    left, right, top, bottom = 48, 10, 10, 22
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for s in series for _, v in s.points if v is not None]
    ymax = _nice_max(max(values) if values else 0.0)
    span = max((end - start).total_seconds(), 1.0)

    def x(ts: datetime) -> float:
        return left + plot_w * min(max((ts - start).total_seconds() / span, 0.0), 1.0)

    def y(v: float) -> float:
        return top + plot_h * (1 - min(v / ymax, 1.0))

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="latency chart" xmlns="http://www.w3.org/2000/svg">'
    ]
    for i in range(5):
        v = ymax * i / 4
        yy = f"{y(v):.1f}"
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{yy}" y2="{yy}" stroke="#eef1f4"/>')
        parts.append(f'<text x="{left - 6}" y="{y(v) + 3:.1f}" text-anchor="end">{v:g} {escape(unit)}</text>')
    for i in range(5):
        ts = start + (end - start) * i / 4
        anchor = "start" if i == 0 else "end" if i == 4 else "middle"
        parts.append(
            f'<text x="{x(ts):.1f}" y="{height - 6}" text-anchor="{anchor}">{ts.strftime(time_format)}</text>'
        )
    for s in series:
        runs: list[list[str]] = [[]]
        for ts, value in s.points:
            if value is None:
                runs.append([])
            else:
                runs[-1].append(f"{x(ts):.1f},{y(value):.1f}")
        for run in runs:
            if len(run) == 1:
                px, py = run[0].split(",")
                parts.append(f'<circle cx="{px}" cy="{py}" r="2" fill="{escape(s.colour)}"/>')
            elif run:
                parts.append(
                    f'<polyline fill="none" stroke="{escape(s.colour)}" stroke-width="1.5" '
                    f'points="{" ".join(run)}"><title>{escape(s.name)}</title></polyline>'
                )
    if not values:
        cx, cy = left + plot_w / 2, top + plot_h / 2
        parts.append(f'<text x="{cx}" y="{cy}" text-anchor="middle">no data</text>')
    legend_x = left + 8
    for s in series:
        parts.append(f'<rect x="{legend_x}" y="{top + 2}" width="10" height="3" fill="{escape(s.colour)}"/>')
        parts.append(f'<text x="{legend_x + 14}" y="{top + 7}">{escape(s.name)}</text>')
        legend_x += 60
    parts.append("</svg>")
    return Markup("".join(parts))
