"""The map on a unit's page: a dot per unit one level down, at its point from
bot/dashboard/data/unit_points.csv (source, licence and version in the README there), coloured by
the band its rate falls in. Inline SVG drawn by the server: no tiles, no script, nothing fetched.
A unit the file has no point for is not drawn, and the caption counts it: no point is ever guessed."""

from __future__ import annotations

import csv
import functools
import math
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from pathlib import Path

from markupsafe import Markup, escape

from bot.dashboard.views import UnitRow
from texts import Percent

POINTS_FILE = Path(__file__).parent / "data" / "unit_points.csv"
Points = Mapping[str, tuple[float, float]]  # code → (latitude, longitude)
# The bands' lower edges and their colours (ColorBrewer YlGnBu, readable by the colour-blind; its
# palest step left out, too near white), each dot outlined in dark grey so it stands out on white;
# a unit without a rate is hollow.
BANDS = (Fraction(0), Fraction(1, 5), Fraction(2, 5), Fraction(3, 5), Fraction(4, 5))
COLOURS = ("#c7e9b4", "#7fcdbb", "#41b6c4", "#2c7fb8", "#253494")
NO_RATE = "#ffffff"
OUTLINE = "#333333"
WIDTH, MARGIN, MAX_HEIGHT = 460, 12, 560
FAR = 1.5  # degrees to the nearest other unit: beyond it, a unit is drawn in a box of its own
INSET_W, INSET_H = 140, 28


@functools.cache
def unit_points(path: Path = POINTS_FILE) -> dict[str, tuple[float, float]]:
    """The shipped points by unit code; none when the file is missing (then no page has a map)."""
    if not path.exists():
        return {}
    with path.open(encoding="utf-8", newline="") as f:
        return {row["code"]: (float(row["lat"]), float(row["lon"])) for row in csv.DictReader(f)}


def band(rate: Fraction | None) -> int | None:
    """The index of the band a rate falls in (None: no rate to colour by)."""
    if rate is None:
        return None
    return max(i for i, low in enumerate(BANDS) if rate >= low)


def unit_map(
    rows: Sequence[UnitRow],
    points: Points,
    fmt: Callable[[object], str],
    say: Callable[..., str],
) -> Markup | None:
    """The figure (map, legend, what it leaves out), or None when no unit here has a point."""
    placed = [(r, points[r.code]) for r in rows if r.code in points]
    if not placed:
        return None
    near, far = _apart(placed)
    # Equirectangular, shrunk east-west by the cosine of the middle latitude: at Vietnam's size
    # and for dots, the difference from a proper projection is invisible.
    lats = [p[0] for _, p in near]
    lons = [p[1] for _, p in near]
    shrink = math.cos(math.radians((min(lats) + max(lats)) / 2))
    span_x = max((max(lons) - min(lons)) * shrink, 1e-3)
    span_y = max(max(lats) - min(lats), 1e-3)
    scale = min((WIDTH - 2 * MARGIN) / span_x, (MAX_HEIGHT - 2 * MARGIN) / span_y)
    radius = 6 if len(placed) <= 40 else 4
    width = max(span_x * scale + 2 * MARGIN, INSET_W + 2 * MARGIN if far else 0)
    per_row = max(int((width - MARGIN) // (INSET_W + MARGIN)), 1)
    top = span_y * scale + 2 * MARGIN
    height = top + math.ceil(len(far) / per_row) * (INSET_H + MARGIN)
    title = say("dashboard.map.alt", drawn=fmt(len(placed)))
    parts = [
        f'<svg class="map" viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-labelledby="map-alt"'
        ' xmlns="http://www.w3.org/2000/svg">',
        f'<title id="map-alt">{escape(title)}</title>',
    ]
    for row, (lat, lon) in sorted(near, key=lambda item: item[0].row.rate is not None):
        x = MARGIN + (lon - min(lons)) * shrink * scale
        y = MARGIN + (max(lats) - lat) * scale
        parts.append(_dot(row, x, y, radius, fmt, say))
    # An island far out at sea (Trường Sa, Hoàng Sa, Côn Đảo) would shrink the rest to a corner:
    # it gets a box of its own below, named, as printed maps of Vietnam do.
    for i, (row, _) in enumerate(far):
        x = MARGIN + (i % per_row) * (INSET_W + MARGIN)
        y = top + (i // per_row) * (INSET_H + MARGIN)
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{INSET_W}" height="{INSET_H}" fill="none" stroke="#8a9bb0"'
            ' stroke-dasharray="4 3"/>'
        )
        parts.append(_dot(row, x + 12, y + INSET_H / 2, radius, fmt, say))
        parts.append(
            f'<text x="{x + 24:.1f}" y="{y + INSET_H / 2 + 4:.1f}" font-size="11">{escape(row.row.name[:24])}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts)) + _legend([r for r, _ in placed], len(rows) - len(placed), fmt, say)


def _apart(placed: list[tuple[UnitRow, tuple[float, float]]]) -> tuple[list, list]:
    """The units drawn in place, and those whose nearest neighbour is more than FAR degrees away."""
    if len(placed) < 3:
        return placed, []

    def distance(a: tuple[float, float], b: tuple[float, float]) -> float:
        return math.hypot(a[0] - b[0], (a[1] - b[1]) * math.cos(math.radians(a[0])))

    # any() stops at the first neighbour near enough: most units have one among the first few.
    alone = [not any(distance(point, other) <= FAR for r, other in placed if r is not row) for row, point in placed]
    return [item for item, a in zip(placed, alone, strict=True) if not a], [
        item for item, a in zip(placed, alone, strict=True) if a
    ]


def _dot(row: UnitRow, x: float, y: float, radius: int, fmt: Callable[[object], str], say: Callable[..., str]) -> str:
    rate = row.row.rate  # a property that divides: once
    which = band(rate)
    fill = NO_RATE if which is None else COLOURS[which]
    label = say("dashboard.map.dot", unit=row.row.name, rate=fmt(None if rate is None else Percent(rate)))
    return (
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius}" fill="{fill}" stroke="{OUTLINE}" stroke-width="1">'
        f"<title>{escape(label)}</title></circle>"
    )


def _legend(placed: list[UnitRow], missing: int, fmt: Callable[[object], str], say: Callable[..., str]) -> Markup:
    """The bands with their colours and how many units fall in each: the map's text alternative."""
    tally = [0] * len(BANDS)
    unrated = 0
    for row in placed:
        which = band(row.row.rate)
        if which is None:
            unrated += 1
        else:
            tally[which] += 1
    names = []
    for i, low in enumerate(BANDS):
        if i == 0:
            names.append(say("dashboard.map.below", high=fmt(Percent.target(BANDS[1]))))
        elif i == len(BANDS) - 1:
            names.append(say("dashboard.map.from", low=fmt(Percent.target(low))))
        else:
            names.append(
                say("dashboard.map.between", low=fmt(Percent.target(low)), high=fmt(Percent.target(BANDS[i + 1])))
            )
    items = [*zip(COLOURS, names, tally, strict=True), (NO_RATE, say("dashboard.map.no_rate"), unrated)]
    parts = ['<ul class="legend">']
    for colour, name, n in items:
        parts.append(
            '<li><svg width="14" height="14" aria-hidden="true" xmlns="http://www.w3.org/2000/svg">'
            f'<circle cx="7" cy="7" r="6" fill="{colour}" stroke="{OUTLINE}" stroke-width="1"/></svg> '
            f"{escape(say('dashboard.map.band', band=name, count=fmt(n)))}</li>"
        )
    parts.append("</ul>")
    if missing:
        parts.append(f'<p class="note">{escape(say("dashboard.map.missing", count=fmt(missing)))}</p>')
    return Markup("".join(parts))
