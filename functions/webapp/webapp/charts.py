"""Server-side SVG charts: a sparkline, horizontal bars and a line chart.

Each is one ``<svg role="img">`` labelled by its own ``<title>`` and ``<desc>`` (the desc says
in words what the chart shows); the pages also give the numbers as text (a table or a list), so
no one needs the picture. Colours and strokes come from the CSS file's classes (the CSP allows
no style attribute). A missing value (None) is a gap, never a zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape


def _ok(value: float | None) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _f(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))


def _open(chart_id: str, title: str, desc: str, width: int, height: int, css: str) -> list[str]:
    chart_id = str(escape(chart_id))
    return [
        f'<svg class="chart {css}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" preserveAspectRatio="none" focusable="false">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
        f'<desc id="{chart_id}-d">{escape(desc)}</desc>',
    ]


def _segments(points: list[tuple[float, float] | None]) -> list[list[tuple[float, float]]]:
    """Runs of consecutive points (a None breaks the line)."""
    runs: list[list[tuple[float, float]]] = [[]]
    for p in points:
        if p is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append(p)
    return [r for r in runs if r]


def _path(run: list[tuple[float, float]]) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in run)


def sparkline(
    chart_id: str, values: Sequence[float | None], title: str, desc: str, width: int = 120, height: int = 32
) -> Markup:
    """A small line of ``values`` (scaled to their own range; a lone point is a dot)."""
    present = [v for v in values if _ok(v)]
    out = _open(chart_id, title, desc, width, height, "spark")
    if present:
        lo, hi = min(present), max(present)
        span = (hi - lo) or 1.0
        n = max(len(values) - 1, 1)
        pad = 3
        points = [
            (pad + i * (width - 2 * pad) / n, height - pad - ((v - lo) / span) * (height - 2 * pad)) if _ok(v) else None
            for i, v in enumerate(values)
        ]
        for run in _segments(points):
            if len(run) == 1:
                out.append(f'<circle class="spark-dot" cx="{run[0][0]:.1f}" cy="{run[0][1]:.1f}" r="2"/>')
            else:
                out.append(f'<polyline class="spark-line" points="{_path(run)}"/>')
    else:
        out.append(f'<line class="spark-empty" x1="3" y1="{height / 2}" x2="{width - 3}" y2="{height / 2}"/>')
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 - every text in it went through escape()


def bars(
    chart_id: str,
    items: Sequence[tuple[str, float | None]],
    title: str,
    desc: str,
    width: int = 320,
    row: int = 26,
    label_width: int = 70,
) -> Markup:
    """Horizontal bars, one row per (label, value), scaled to the largest value."""
    height = max(len(items), 1) * row + 4
    out = _open(chart_id, title, desc, width, height, "bars")
    top = max([v for _, v in items if _ok(v)] or [0]) or 1
    room = width - label_width - 40
    for i, (label, value) in enumerate(items):
        y = 2 + i * row
        out.append(
            f'<text class="bar-label" x="{label_width - 6}" y="{y + row * 0.65:.1f}" text-anchor="end">'
            f"{escape(label)}</text>"
        )
        if _ok(value):
            w = max(room * float(value) / top, 1 if value else 0)
            out.append(
                f'<rect class="bar" x="{label_width}" y="{y + 4}" width="{w:.1f}" height="{row - 8}" rx="2"/>'
                f'<text class="bar-value" x="{label_width + w + 4:.1f}" y="{y + row * 0.65:.1f}">{_f(value)}</text>'
            )
        else:
            out.append(f'<text class="bar-value" x="{label_width + 4}" y="{y + row * 0.65:.1f}">no data</text>')
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 - every text in it went through escape()


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    css: str  # "first" | "return" | "volume" ...: the CSS class of its line


def line(
    chart_id: str,
    labels: Sequence[str],
    series: Sequence[Series],
    title: str,
    desc: str,
    y_min: float | None = None,
    y_max: float | None = None,
    width: int = 420,  # a phone shows it about 1:1, so its 12 px labels stay readable
    height: int = 210,
) -> Markup:
    """Lines over ``labels`` (the x axis: periods), y from ``y_min`` to ``y_max`` (default: the
    data's range), with a few gridlines, the first and last label and a legend."""
    left, right, top, bottom = 36, 8, 10, 40
    present = [v for s in series for v in s.values if _ok(v)]
    lo = y_min if y_min is not None else min(present or [0])
    hi = y_max if y_max is not None else max(present or [1])
    if hi <= lo:
        hi = lo + 1
    inner_w, inner_h = width - left - right, height - top - bottom
    n = max(len(labels) - 1, 1)

    def x(i: int) -> float:
        return left + (i * inner_w / n if len(labels) > 1 else inner_w / 2)

    def y(v: float) -> float:
        return top + inner_h - (v - lo) / (hi - lo) * inner_h

    out = _open(chart_id, title, desc, width, height, "line")
    for k in range(5):
        v = lo + (hi - lo) * k / 4
        out.append(
            f'<line class="grid" x1="{left}" y1="{y(v):.1f}" x2="{width - right}" y2="{y(v):.1f}"/>'
            f'<text class="axis" x="{left - 4}" y="{y(v) + 4:.1f}" text-anchor="end">{_f(round(v, 1))}</text>'
        )
    if labels:
        out.append(f'<text class="axis" x="{left}" y="{height - bottom + 16}">{escape(labels[0])}</text>')
        if len(labels) > 1:
            out.append(
                f'<text class="axis" x="{width - right}" y="{height - bottom + 16}" text-anchor="end">'
                f"{escape(labels[-1])}</text>"
            )
    for s in series:
        points = [(x(i), y(float(v))) if _ok(v) else None for i, v in enumerate(s.values)]
        for run in _segments(points):
            if len(run) == 1:
                out.append(f'<circle class="pt {s.css}" cx="{run[0][0]:.1f}" cy="{run[0][1]:.1f}" r="3"/>')
            else:
                out.append(f'<polyline class="ln {s.css}" points="{_path(run)}"/>')
    lx = left
    for s in series:
        out.append(
            f'<rect class="key {s.css}" x="{lx}" y="{height - 14}" width="12" height="4"/>'
            f'<text class="axis" x="{lx + 16}" y="{height - 9}">{escape(s.name)}</text>'
        )
        lx += 16 + 7 * len(s.name) + 14
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 - every text in it went through escape()
