"""Two small inline SVG trend charts (no JavaScript), each read at a glance: problems per scan (bars) and the
score per scan (a line), each with its own labelled axis, the value on every mark and year-month labels.

The charts scale to their container (``viewBox``, width 100 %), so they fit a phone as well as A4.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from markupsafe import Markup, escape

WIDTH, HEIGHT = 330, 124
LEFT, RIGHT, TOP, BOTTOM = 30, 10, 26, 18
AXIS = "#555"
FONT = 'font-family="sans-serif"'


def x_labels(points: Sequence[dict[str, Any]]) -> list[str]:
    """Year-month (2026-09) of each scan; the full day when two scans fall in the same month."""
    days = [str(p["as_of"]) for p in points]
    months = [d[:7] for d in days]
    return months if len(set(months)) == len(months) else days


def _nice_top(peak: int) -> int:
    """The axis top for counts: 1, 2 or 5 times a power of ten at or above ``peak``."""
    if peak <= 5:
        return 5
    power: int = 10 ** int(math.log10(peak))
    for f in (1, 2, 5, 10):
        if f * power >= peak:
            return f * power
    return 10 * power


def _frame(title: str, unit: str, label: str) -> list[str]:
    """The chart's frame and its title, which names the unit of the vertical axis (问题数（个）)."""
    return [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" '
            f'preserveAspectRatio="xMidYMid meet" role="img" aria-label="{escape(label)}" {FONT}>',
            f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>',
            f'<text x="2" y="12" font-size="11" font-weight="bold" fill="#111">{escape(title)}'
            f'<tspan font-weight="normal" fill="{AXIS}" font-size="9">（纵轴：{escape(unit)}）</tspan></text>']


def _axis(ticks: Sequence[tuple[float, str]], x0: float, x1: float, y_of: Any) -> list[str]:
    out = [f'<line x1="{x0}" y1="{TOP}" x2="{x0}" y2="{HEIGHT - BOTTOM}" stroke="{AXIS}" stroke-width="0.8"/>',
           f'<line x1="{x0}" y1="{HEIGHT - BOTTOM}" x2="{x1}" y2="{HEIGHT - BOTTOM}" stroke="{AXIS}" '
           f'stroke-width="0.8"/>']
    for value, text in ticks:
        y = y_of(value)
        out.append(f'<line x1="{x0 - 3}" y1="{y:.1f}" x2="{x0}" y2="{y:.1f}" stroke="{AXIS}" stroke-width="0.8"/>')
        out.append(f'<text x="{x0 - 5}" y="{y + 3:.1f}" font-size="9" fill="{AXIS}" text-anchor="end">'
                   f'{escape(text)}</text>')
    return out


def _x_axis(labels: Sequence[str], centre: Any) -> list[str]:
    size = 9 if max((len(s) for s in labels), default=0) <= 7 else 7.5
    return [f'<text x="{centre(i):.1f}" y="{HEIGHT - BOTTOM + 13}" font-size="{size}" fill="#333" '
            f'text-anchor="middle">{escape(s)}</text>' for i, s in enumerate(labels)]


def problems_svg(points: Sequence[dict[str, Any]]) -> Markup:
    """Bars: problems found by each scan, the count on each bar; red when a 单项否决 indicator was hit."""
    labels = x_labels(points)
    n = max(len(points), 1)
    top = _nice_top(max([int(p["problems"]) for p in points] + [1]))
    x0, x1, y0, y1 = LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM
    step = (x1 - x0) / n
    bar = min(step * 0.6, 46)

    def y_of(v: float) -> float:
        return y1 - (y1 - y0) * v / top

    def centre(i: int) -> float:
        return x0 + step * (i + 0.5)

    parts = _frame("问题数", "个", "各次监测发现的问题数")
    parts += _axis([(0, "0"), (top / 2, f"{top / 2:g}"), (top, str(top))], x0, x1, y_of)
    for i, p in enumerate(points):
        count = int(p["problems"])
        colour = "#c0392b" if p.get("vetoes") else "#7f8c8d"
        h = y1 - y_of(count)
        parts.append(f'<rect x="{centre(i) - bar / 2:.1f}" y="{y_of(count):.1f}" width="{bar:.1f}" height="{h:.1f}" '
                     f'fill="{colour}"><title>{escape(labels[i])}：问题 {count} 个</title></rect>')
        parts.append(f'<text x="{centre(i):.1f}" y="{y_of(count) - 3:.1f}" font-size="10" font-weight="bold" '
                     f'text-anchor="middle" fill="#111">{count}</text>')
    parts += _x_axis(labels, centre)
    if any(p.get("vetoes") for p in points):
        parts.append(f'<rect x="{x1 - 64}" y="4" width="8" height="8" fill="#c0392b"/>'
                     f'<text x="{x1}" y="11.5" font-size="8.5" fill="{AXIS}" text-anchor="end">有单项否决</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def score_svg(points: Sequence[dict[str, Any]], pass_score: int = 60) -> Markup:
    """Line: the 100-point estimate of each scan, the score on each point, the pass line dashed; a scan that
    measured nothing (无法评定) has no point, only a dash."""
    labels = x_labels(points)
    n = max(len(points), 1)
    x0, x1, y0, y1 = LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM
    step = (x1 - x0) / n

    def y_of(v: float) -> float:
        return y1 - (y1 - y0) * v / 100

    def centre(i: int) -> float:
        return x0 + step * (i + 0.5)

    parts = _frame("扣分估算得分", "分", "各次监测的扣分估算得分")
    parts += _axis([(0, "0"), (pass_score, str(pass_score)), (100, "100")], x0, x1, y_of)
    parts.append(f'<line x1="{x0}" y1="{y_of(pass_score):.1f}" x2="{x1}" y2="{y_of(pass_score):.1f}" '
                 f'stroke="#b3261e" stroke-dasharray="3,3" stroke-width="0.8"/>'
                 f'<text x="{x1}" y="{y_of(pass_score) - 3:.1f}" font-size="8.5" fill="#b3261e" '
                 f'text-anchor="end">低于 {pass_score} 分不合格</text>')
    line: list[tuple[float, float, float]] = []
    for i, p in enumerate(points):
        score = p.get("score")
        if score is None:
            parts.append(f'<text x="{centre(i):.1f}" y="{y1 - 4}" font-size="10" text-anchor="middle" '
                         f'fill="{AXIS}">—</text>')
            continue
        line.append((centre(i), y_of(float(score)), float(score)))
    if len(line) > 1:
        parts.append('<polyline points="' + " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in line)
                     + '" fill="none" stroke="#1f5fa8" stroke-width="2"/>')
    for x, y, score in line:
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#1f5fa8"/>'
                     f'<text x="{x:.1f}" y="{y - 6:.1f}" font-size="10" font-weight="bold" text-anchor="middle" '
                     f'fill="#111">{score:g}</text>')
    parts += _x_axis(labels, centre)
    parts.append("</svg>")
    return Markup("".join(parts))


def trend_charts(points: Sequence[dict[str, Any]]) -> Markup:
    """The two charts side by side (stacked on a narrow screen: see the ``.charts`` style of the summary)."""
    return Markup(f'<div class="charts"><figure>{problems_svg(points)}</figure>'
                  f'<figure>{score_svg(points)}</figure></div>')


def trend_svg(points: Sequence[dict[str, Any]]) -> Markup:
    """Kept for templates written before the two charts: the same two charts."""
    return trend_charts(points)
