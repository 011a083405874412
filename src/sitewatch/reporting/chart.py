"""A small inline SVG trend chart (no JavaScript): problems per scan as bars, the score as a line."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markupsafe import Markup, escape


def trend_svg(points: Sequence[dict[str, Any]], width: int = 640, height: int = 200) -> Markup:
    """Bars: open problems per scan (red when a veto was hit); line: the 100-point estimate."""
    left, right, top, bottom = 36, 36, 14, 34
    w, h = width - left - right, height - top - bottom
    n = max(len(points), 1)
    peak = max([int(p["problems"]) for p in points] + [1])
    step = w / n
    bar = max(step * 0.55, 4)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="近期监测趋势">',
             f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fff"/>',
             f'<line x1="{left}" y1="{top + h}" x2="{left + w}" y2="{top + h}" stroke="#888"/>',
             f'<text x="4" y="{top + 8}" font-size="10" fill="#555">{peak}</text>',
             f'<text x="4" y="{top + h}" font-size="10" fill="#555">0</text>',
             f'<text x="{left + w + 4}" y="{top + 8}" font-size="10" fill="#1f5fa8">100分</text>',
             f'<text x="{left + w + 4}" y="{top + h * 0.4 + 4:.1f}" font-size="10" fill="#1f5fa8">60分</text>',
             f'<line x1="{left}" y1="{top + h * 0.4:.1f}" x2="{left + w}" y2="{top + h * 0.4:.1f}" '
             f'stroke="#1f5fa8" stroke-dasharray="3,3" stroke-width="0.6"/>']
    line: list[str] = []
    for i, p in enumerate(points):
        x = left + step * i + (step - bar) / 2
        bh = h * int(p["problems"]) / peak
        colour = "#c0392b" if p.get("vetoes") else "#7f8c8d"
        score = p.get("score")        # None: the scan measured nothing (无法评定), no point on the line
        conclusion = f"，{p['conclusion']}" if p.get("conclusion") else ""
        parts.append(f'<rect x="{x:.1f}" y="{top + h - bh:.1f}" width="{bar:.1f}" height="{bh:.1f}" fill="{colour}">'
                     f'<title>{escape(p["as_of"])}：问题 {int(p["problems"])} 个，得分 '
                     f'{"—" if score is None else float(score)}{escape(conclusion)}</title></rect>')
        parts.append(f'<text x="{x + bar / 2:.1f}" y="{top + h - bh - 3:.1f}" font-size="10" text-anchor="middle">'
                     f'{int(p["problems"])}</text>')
        parts.append(f'<text x="{x + bar / 2:.1f}" y="{top + h + 14}" font-size="10" text-anchor="middle" '
                     f'fill="#333">{escape(p["label"])}</text>')
        if score is not None:
            line.append(f'{x + bar / 2:.1f},{top + h * (1 - float(score) / 100):.1f}')
    if len(line) > 1:
        parts.append(f'<polyline points="{" ".join(line)}" fill="none" stroke="#1f5fa8" stroke-width="2"/>')
    for pt in line:
        cx, cy = pt.split(",")
        parts.append(f'<circle cx="{cx}" cy="{cy}" r="3" fill="#1f5fa8"/>')
    parts.append(f'<text x="{left}" y="{height - 4}" font-size="10" fill="#555">柱：问题数（红色为存在单项否决）'
                 f'　线：扣分估算得分</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
