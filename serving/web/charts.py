"""Charts drawn on the server as inline SVG: no chart library, no script, no network.

Each chart is an ``<svg role="img">`` with a title and description for screen readers;
colours come from classes in ``static/app.css`` and every series also differs by shape
(dash pattern or marker), so nothing relies on colour alone. Pages put the same figures
in a table next to each chart.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape

from markupsafe import Markup

WIDTH = 720
HEIGHT = 280
MARGIN_LEFT = 64
MARGIN_RIGHT = 16
MARGIN_TOP = 16
MARGIN_BOTTOM = 40
#: Series classes in app.css (colour and dash pattern), taken in turn.
PALETTE = tuple(f"series-{i}" for i in range(8))


@dataclass
class Series:
    """One line (or set of dots) of a time chart."""

    name: str
    points: list[tuple[dt.date, float]]
    css: str = "series-0"
    kind: str = "line"  # line, step or dots
    #: Indices of points drawn with the warning marker (e.g. wages below the criterion).
    flagged: set[int] = field(default_factory=set)


def nice_ticks(low: float, high: float, count: int = 5, integer: bool = False) -> list[float]:
    """Round tick values covering [low, high] (about ``count`` of them); whole numbers
    only when ``integer`` (counts)."""
    if not math.isfinite(low) or not math.isfinite(high):
        return [0.0, 1.0]
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if integer:
        step = max(1.0, math.ceil(step))
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value < high + step * 0.999:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _date_ticks(first: dt.date, last: dt.date, count: int = 6) -> list[dt.date]:
    if first == last:
        return [first]
    span = (last - first).days
    ticks = []
    for i in range(count):
        day = first + dt.timedelta(days=round(span * i / (count - 1)))
        ticks.append(dt.date(day.year, day.month, 1) if i not in (0, count - 1) else day)
    return sorted(set(ticks))


def _svg_open(chart_id: str, title: str, desc: str) -> list[str]:
    return [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
            f'aria-labelledby="{chart_id}-title {chart_id}-desc" '
            f'preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">',
            f'<title id="{chart_id}-title">{escape(title)}</title>',
            f'<desc id="{chart_id}-desc">{escape(desc)}</desc>']


def _y_axis(ticks: list[float], y: Callable[[float], float],
            fmt: Callable[[float], str]) -> list[str]:
    parts = []
    for tick in ticks:
        py = y(tick)
        parts.append(f'<line class="grid" x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" '
                     f'y1="{py:.1f}" y2="{py:.1f}"/>')
        parts.append(f'<text class="tick" x="{MARGIN_LEFT - 6}" y="{py + 4:.1f}" '
                     f'text-anchor="end">{escape(fmt(tick))}</text>')
    return parts


def time_chart(chart_id: str, title: str, desc: str, series: Sequence[Series], *,
               y_format: Callable[[float], str], y_min: float | None = None,
               references: Sequence[tuple[float, str]] = ()) -> Markup:
    """A chart of values over time: lines, steps or dots, with horizontal reference lines
    (e.g. a legal deadline)."""
    points = [p for s in series for p in s.points if math.isfinite(p[1])]
    if not points:
        return Markup("")
    days = [p[0] for p in points]
    first, last = min(days), max(days)
    values = [p[1] for p in points] + [r[0] for r in references]
    low = min(values) if y_min is None else min(y_min, min(values))
    ticks = nice_ticks(low, max(values))
    y_low, y_high = ticks[0], ticks[-1]
    span_days = max((last - first).days, 1)
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM

    def x(day: dt.date) -> float:
        if first == last:
            return MARGIN_LEFT + plot_w / 2
        return MARGIN_LEFT + plot_w * (day - first).days / span_days

    def y(value: float) -> float:
        return MARGIN_TOP + plot_h * (1 - (value - y_low) / ((y_high - y_low) or 1))

    parts = _svg_open(chart_id, title, desc)
    parts += _y_axis(ticks, y, y_format)
    date_ticks = _date_ticks(first, last)
    for i, day in enumerate(date_ticks):
        anchor = ("start" if i == 0 and len(date_ticks) > 1 else
                  "end" if i == len(date_ticks) - 1 and len(date_ticks) > 1 else "middle")
        parts.append(f'<text class="tick" x="{x(day):.1f}" y="{HEIGHT - MARGIN_BOTTOM + 18}" '
                     f'text-anchor="{anchor}">{day:%Y-%m}</text>')
    parts.append(f'<line class="axis" x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" '
                 f'y1="{HEIGHT - MARGIN_BOTTOM}" y2="{HEIGHT - MARGIN_BOTTOM}"/>')
    for value, label in references:
        py = y(value)
        parts.append(f'<line class="reference" x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" '
                     f'y1="{py:.1f}" y2="{py:.1f}"/>')
        parts.append(f'<text class="reference-label" x="{WIDTH - MARGIN_RIGHT - 4}" '
                     f'y="{py - 4:.1f}" text-anchor="end">{escape(label)}</text>')
    for s in series:
        pts = [(x(d), y(v)) for d, v in s.points if math.isfinite(v)]
        if not pts:
            continue
        if s.kind in ("line", "step") and len(pts) > 1:
            if s.kind == "step":
                path = [f"M{pts[0][0]:.1f},{pts[0][1]:.1f}"]
                for px1, py1 in pts[1:]:
                    path.append(f"H{px1:.1f}V{py1:.1f}")
                d = "".join(path)
            else:
                d = "M" + "L".join(f"{px:.1f},{py:.1f}" for px, py in pts)
            parts.append(f'<path class="line {s.css}" d="{d}"><title>{escape(s.name)}'
                         f'</title></path>')
        if s.kind == "dots" or len(pts) == 1:
            parts += [f'<circle class="dot {s.css}" cx="{px:.1f}" cy="{py:.1f}" r="4"/>'
                      for px, py in pts]
        for index in sorted(s.flagged):
            if index < len(s.points):
                d, v = s.points[index]
                parts.append(f'<rect class="flag" x="{x(d) - 4:.1f}" y="{y(v) - 4:.1f}" '
                             'width="8" height="8"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(chart_id: str, title: str, desc: str, categories: Sequence[str],
              groups: Sequence[tuple[str, Sequence[float], str]], *,
              y_format: Callable[[float], str]) -> Markup:
    """Grouped bars: one group of bars per category (e.g. hires and departures per
    quarter); ``groups`` is (name, values, css class)."""
    if not categories or not groups:
        return Markup("")
    top = max([v for _, values, _ in groups for v in values] + [1])
    ticks = nice_ticks(0, top, 4, integer=True)
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    slot = plot_w / len(categories)
    bar_w = slot * 0.8 / len(groups)

    def y(value: float) -> float:
        return MARGIN_TOP + plot_h * (1 - value / (ticks[-1] or 1))

    parts = _svg_open(chart_id, title, desc)
    parts += _y_axis(ticks, y, y_format)
    label_every = max(1, math.ceil(len(categories) / 8))
    for i, category in enumerate(categories):
        left = MARGIN_LEFT + slot * i + slot * 0.1
        for j, (name, values, css) in enumerate(groups):
            value = values[i]
            top_y = y(value)
            parts.append(f'<rect class="bar {css}" x="{left + j * bar_w:.1f}" '
                         f'y="{top_y:.1f}" width="{bar_w:.1f}" '
                         f'height="{HEIGHT - MARGIN_BOTTOM - top_y:.1f}">'
                         f'<title>{escape(name)} {escape(category)}: {escape(y_format(value))}'
                         f'</title></rect>')
        if i % label_every == 0:
            parts.append(f'<text class="tick" x="{MARGIN_LEFT + slot * (i + 0.5):.1f}" '
                         f'y="{HEIGHT - MARGIN_BOTTOM + 18}" text-anchor="middle">'
                         f'{escape(category)}</text>')
    parts.append(f'<line class="axis" x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" '
                 f'y1="{HEIGHT - MARGIN_BOTTOM}" y2="{HEIGHT - MARGIN_BOTTOM}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))
