"""Charts drawn on the server as SVG (no JavaScript library): latency lines and uptime bars. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

from opsbook.timefmt import zone_label


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


@dataclass(frozen=True)
class _Plot:
    """The chart's geometry: where a time falls on x and a value on y (clamped to the plot area)."""

    start: datetime
    end: datetime
    ymax: float
    width: int
    height: int
    left: int = 48
    right: int = 10
    top: int = 10
    bottom: int = 22

    @property
    def plot_w(self) -> int:
        return self.width - self.left - self.right

    @property
    def plot_h(self) -> int:
        return self.height - self.top - self.bottom

    def x(self, ts: datetime) -> float:
        span = max((self.end - self.start).total_seconds(), 1.0)
        return self.left + self.plot_w * min(max((ts - self.start).total_seconds() / span, 0.0), 1.0)

    def y(self, v: float) -> float:
        return self.top + self.plot_h * (1 - min(v / self.ymax, 1.0))


def _value_axis(plot: _Plot, unit: str) -> list[str]:
    """5 grid lines from 0 to the maximum, each labelled with its value and unit."""
    parts: list[str] = []
    for i in range(5):
        v = plot.ymax * i / 4
        yy = f"{plot.y(v):.1f}"
        x2 = plot.width - plot.right
        parts.append(f'<line x1="{plot.left}" x2="{x2}" y1="{yy}" y2="{yy}" stroke="#eef1f4"/>')
        parts.append(
            f'<text x="{plot.left - 6}" y="{plot.y(v) + 3:.1f}" text-anchor="end">{v:g} {escape(unit)}</text>'
        )
    return parts


def _time_axis(plot: _Plot, time_format: str, zone: str) -> list[str]:
    """5 time labels from start to end on the wall clock of `zone`, the first aligned left and the last
    right; the last one carries the zone's abbreviation (`12:00 CET`)."""
    parts: list[str] = []
    for i in range(5):
        ts = plot.start + (plot.end - plot.start) * i / 4
        anchor = "start" if i == 0 else "end" if i == 4 else "middle"
        local = ts.astimezone(ZoneInfo(zone))
        shown = local.strftime(time_format) + (f" {zone_label(local)}" if i == 4 else "")
        label = escape(shown)
        parts.append(
            f'<text x="{plot.x(ts):.1f}" y="{plot.height - 6}" text-anchor="{anchor}">{label}</text>'
        )
    return parts


def _runs(plot: _Plot, points: Sequence[tuple[datetime, float | None]]) -> list[list[str]]:
    """The points as "x,y" coordinates, in runs split at each gap (a run may be empty)."""
    runs: list[list[str]] = [[]]
    for ts, value in points:
        if value is None:
            runs.append([])
        else:
            runs[-1].append(f"{plot.x(ts):.1f},{plot.y(value):.1f}")
    return runs


def _series_marks(plot: _Plot, s: Series) -> list[str]:
    """A polyline per run of the series, a dot for a run of one point."""
    parts: list[str] = []
    for run in _runs(plot, s.points):
        if len(run) == 1:
            px, py = run[0].split(",")
            parts.append(f'<circle cx="{px}" cy="{py}" r="2" fill="{escape(s.colour)}"/>')
        elif run:
            parts.append(
                f'<polyline fill="none" stroke="{escape(s.colour)}" stroke-width="1.5" '
                f'points="{" ".join(run)}"><title>{escape(s.name)}</title></polyline>'
            )
    return parts


def _legend(plot: _Plot, series: Sequence[Series]) -> list[str]:
    parts: list[str] = []
    legend_x = plot.left + 8
    for s in series:
        colour = escape(s.colour)
        parts.append(f'<rect x="{legend_x}" y="{plot.top + 2}" width="10" height="3" fill="{colour}"/>')
        parts.append(f'<text x="{legend_x + 14}" y="{plot.top + 7}">{escape(s.name)}</text>')
        legend_x += 60
    return parts


def _markers(plot: _Plot, markers: Sequence[tuple[datetime, str, str]]) -> list[str]:
    """A dashed vertical line at each marker inside the chart, with its tag and its title as a tooltip."""
    parts: list[str] = []
    for ts, tag, title in markers:
        if not plot.start <= ts <= plot.end:
            continue
        x, bottom = f"{plot.x(ts):.1f}", plot.top + plot.plot_h
        parts.append(
            f'<g class="marker"><line x1="{x}" x2="{x}" y1="{plot.top}" y2="{bottom}" stroke="#8a4fd8" '
            f'stroke-dasharray="4 3"/><text x="{x}" y="{plot.top + 8}" dx="3" fill="#8a4fd8">'
            f"{escape(tag)}</text>"
            f"<title>{escape(title)}</title></g>"
        )
    return parts


def line_chart(
    series: Sequence[Series], start: datetime, end: datetime, unit: str = "ms",
    width: int = 900, height: int = 220, time_format: str = "%H:%M", zone: str = "UTC",
    markers: Sequence[tuple[datetime, str, str]] = (),
) -> Markup:
    """An SVG of lines over [start, end) with a y axis from 0 to a round maximum and 5 time labels in
    `zone` (the team's time zone); `markers` (when, tag, title) are dashed vertical lines (deploys)."""
    values = [v for s in series for _, v in s.points if v is not None]
    plot = _Plot(start, end, _nice_max(max(values) if values else 0.0), width, height)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="latency chart" xmlns="http://www.w3.org/2000/svg">',
        *_value_axis(plot, unit),
        *_time_axis(plot, time_format, zone),
    ]
    for s in series:
        parts += _series_marks(plot, s)
    if not values:
        cx, cy = plot.left + plot.plot_w / 2, plot.top + plot.plot_h / 2
        parts.append(f'<text x="{cx}" y="{cy}" text-anchor="middle">no data</text>')
    parts += [*_markers(plot, markers), *_legend(plot, series), "</svg>"]
    # Every part is markup of our own with numbers and escape()d strings (unit, colours, names, time labels).
    return Markup("".join(parts))  # noqa: S704 - built from numbers and escaped strings only, see above
