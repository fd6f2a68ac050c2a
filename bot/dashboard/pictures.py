"""Pictures drawn by the server as inline SVG (no script, nothing fetched): installs over time
against the straight line to the target; the units ranked by rate, each bar with its target's mark. Presentation attributes only, since the page's policy
admits no inline style."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from fractions import Fraction

from markupsafe import Markup, escape

from bot.dashboard.views import UnitRow
from storage.tally import people_needed

BAR, GAP, LABEL, WIDTH = 14, 4, 150, 460
W_OVER, H_OVER = 460, 200


def ranked_bars(
    rows: Sequence[UnitRow], percent: Callable[[Fraction], str], limit: int = 200, alt: str = ""
) -> Markup | None:
    """A bar per unit with a rate, highest first (at most `limit`, so a page stays small)."""
    rated = sorted((r for r in rows if r.row.rate is not None), key=lambda r: -(r.row.rate or 0))[:limit]
    if not rated:
        return None
    top = max([Fraction(1, 100), *(r.row.rate or 0 for r in rated), *(r.row.target_rate or 0 for r in rated)])
    span = WIDTH - LABEL - 60
    height = len(rated) * (BAR + GAP)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(alt)}"'
        ' xmlns="http://www.w3.org/2000/svg">'
    ]
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


def installs_over_time(
    unit: UnitRow, today: dt.date, fmt: Callable[[object], str], legend: tuple[str, str], alt: str = ""
) -> Markup | None:
    """The unit's installed count on each date entered (blue), and the straight line from its
    first count to the people its target needs by the deadline (red, dashed)."""
    points = unit.curve
    if not points:
        return None
    row = unit.row
    goal = None
    if row.target is not None and row.denominator and unit.start is not None:
        goal = (row.target.deadline, people_needed(row.target.rate, row.denominator))
    first = points[0][0]
    last = max(today, points[-1][0], goal[0] if goal else today)
    top = max([1, *(count for _, count in points), goal[1] if goal else 0])
    left, right, high, low = 60, W_OVER - 10, 20, H_OVER - 30
    days = max((last - first).days, 1)

    def x(day: dt.date) -> float:
        return left + (right - left) * (day - first).days / days

    def y(count: int) -> float:
        return low - (low - high) * count / top

    parts = [
        f'<svg class="chart over-time" viewBox="0 0 {W_OVER} {H_OVER}" role="img" aria-label="{escape(alt)}"'
        ' xmlns="http://www.w3.org/2000/svg">'
    ]
    parts.append(f'<line x1="{left}" y1="{low}" x2="{right}" y2="{low}" stroke="#4a4a4a"/>')
    parts.append(f'<line x1="{left}" y1="{high}" x2="{left}" y2="{low}" stroke="#4a4a4a"/>')
    parts.append(f'<text x="{left - 4}" y="{high + 4}" font-size="10" text-anchor="end">{escape(fmt(top))}</text>')
    parts.append(f'<text x="{left - 4}" y="{low}" font-size="10" text-anchor="end">0</text>')
    parts.append(f'<text x="{left}" y="{low + 14}" font-size="10">{escape(fmt(first))}</text>')
    parts.append(f'<text x="{right}" y="{low + 14}" font-size="10" text-anchor="end">{escape(fmt(last))}</text>')
    if goal is not None and unit.start is not None:
        (d0, c0), (d1, c1) = unit.start, goal
        parts.append(
            f'<line x1="{x(d0):.1f}" y1="{y(c0):.1f}" x2="{x(d1):.1f}" y2="{y(c1):.1f}" stroke="#b3261e"'
            ' stroke-width="2" stroke-dasharray="6 4"/>'
        )
    line = " ".join(f"{x(d):.1f},{y(c):.1f}" for d, c in points)
    parts.append(f'<polyline points="{line}" fill="none" stroke="#0b5cad" stroke-width="2.5"/>')
    for d, c in points[-1:]:
        parts.append(f'<circle cx="{x(d):.1f}" cy="{y(c):.1f}" r="3.5" fill="#0b5cad"/>')
    parts.append(f'<text x="{left + 4}" y="12" font-size="10" fill="#0b5cad">■ {escape(legend[0])}</text>')
    if goal is not None:
        parts.append(
            f'<text x="{right}" y="12" font-size="10" fill="#b3261e" text-anchor="end">– – {escape(legend[1])}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
