"""Pictures drawn by the server as inline SVG (no script, nothing fetched): the units ranked by
rate, each bar with its target's mark. Presentation attributes only, since the page's policy
admits no inline style."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction

from markupsafe import Markup, escape

from bot.dashboard.views import UnitRow

BAR, GAP, LABEL, WIDTH = 14, 4, 150, 460


def ranked_bars(rows: Sequence[UnitRow], percent: Callable[[Fraction], str], limit: int = 200) -> Markup | None:
    """A bar per unit with a rate, highest first (at most `limit`, so a page stays small)."""
    rated = sorted((r for r in rows if r.row.rate is not None), key=lambda r: -(r.row.rate or 0))[:limit]
    if not rated:
        return None
    top = max([Fraction(1, 100), *(r.row.rate or 0 for r in rated), *(r.row.target_rate or 0 for r in rated)])
    span = WIDTH - LABEL - 60
    height = len(rated) * (BAR + GAP)
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" xmlns="http://www.w3.org/2000/svg">']
    for i, r in enumerate(rated):
        y = i * (BAR + GAP)
        rate = r.row.rate or Fraction(0)
        length = float(rate / top) * span
        name = escape(r.row.name[:28])
        parts.append(f'<text x="{LABEL - 4}" y="{y + BAR - 3}" font-size="11" text-anchor="end">{name}</text>')
        parts.append(f'<rect x="{LABEL}" y="{y}" width="{length:.1f}" height="{BAR}" fill="#0b5cad"/>')
        parts.append(
            f'<text x="{LABEL + length + 3:.1f}" y="{y + BAR - 3}" font-size="10">{escape(percent(rate))}</text>'
        )
        if r.row.target_rate is not None:
            x = LABEL + float(r.row.target_rate / top) * span
            parts.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y - 1}" y2="{y + BAR + 1}" stroke="#b3261e" stroke-width="2"/>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))
