"""The poster's one layout: where every line, box and QR module goes on an A4 page, in millimetres
from the top-left corner. documents.posters.pdf and documents.posters.png draw this same description.

Top to bottom: a coloured band with the headline; the venue's name and address; the QR code, at
least 150 mm wide (Hanoi's 2021 rule for venue codes asks for 15 × 15 cm) with its 4-module quiet
zone kept blank; three short steps; the manual fallback with the code in large type; the
messengers. Text that would not fit is set smaller, then wrapped, then shortened with "…": a long
venue name never pushes the QR below 150 mm or off the page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import qrcode
from qrcode.constants import ERROR_CORRECT_M

from documents.posters.fonts import POINT, ink, printable, width_mm
from documents.posters.words import PosterWords

PAGE_WIDTH, PAGE_HEIGHT = 210.0, 297.0  # A4 portrait
MARGIN = 10.0
# The symbol's side without its quiet zone: never under 150 mm; 155 mm when the text allows, so
# that a printer's "fit to page" (about 97%) still leaves 150 mm.
QR_MIN, QR_TARGET, QR_MAX = 150.0, 155.0, 160.0
QUIET_MODULES = 4
# Level M (15% of the symbol may be damaged) keeps a typical t.me link at version 4 (33×33
# modules, about 4.7 mm each at 156 mm): a cheap phone reads it from well over a metre away.
QR_LEVEL = ERROR_CORRECT_M
QR_LEVEL_NAME = "M"

# The venue's name is the largest text after the headline (34 pt): never under NAME_MIN, above the
# subheadline's 15 pt and every other line; the code to type stays two points under the name.
NAME_MIN = 16.0
CODE_MAX, CODE_MIN = 24.0, 13.0

# A line's box, in em: at least this far above and below the baseline, more where its glyphs
# reach further (stacked capitals such as Ẫ reach 1.23 em), and a gap before the next line.
ASCENT, DESCENT, LINE_GAP = 1.0, 0.26, 0.07

BLUE = (11, 92, 173)
LIGHT_BLUE = (227, 240, 251)
INK = (26, 26, 26)
MUTED = (85, 85, 85)
WHITE = (255, 255, 255)

RGB = tuple[int, int, int]
ELLIPSIS = "…"
# The smallest size (points) a text goes down to so that a long word fits its line unbroken.
WORD_FLOOR = 7.0


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float
    fill: RGB
    radius: float = 0.0


@dataclass(frozen=True)
class Circle:
    cx: float
    cy: float
    r: float
    fill: RGB


@dataclass(frozen=True)
class TextLine:
    """One line of text; `x` is its left edge, or its centre when `centered`."""

    text: str
    x: float
    baseline: float
    size: float  # points
    weight: str
    color: RGB
    centered: bool = False


@dataclass(frozen=True)
class QrCode:
    x: float  # top-left corner of the symbol (quiet zone excluded)
    y: float
    module: float
    matrix: tuple[tuple[bool, ...], ...]
    version: int
    level: str
    data: str

    @property
    def side(self) -> float:
        return self.module * len(self.matrix)

    def runs(self) -> list[tuple[int, int, int]]:
        """Dark modules as horizontal runs (row, first column, length): fewer, seamless shapes."""
        out = []
        for r, row in enumerate(self.matrix):
            c = 0
            while c < len(row):
                if row[c]:
                    start = c
                    while c < len(row) and row[c]:
                        c += 1
                    out.append((r, start, c - start))
                else:
                    c += 1
        return out


@dataclass(frozen=True)
class Layout:
    width: float
    height: float
    title: str
    items: tuple[Box | Circle | TextLine | QrCode, ...]

    @property
    def qr(self) -> QrCode:
        return next(i for i in self.items if isinstance(i, QrCode))

    def texts(self) -> list[TextLine]:
        return [i for i in self.items if isinstance(i, TextLine)]

    @property
    def whole(self) -> bool:
        """No text had to be shortened."""
        return not any(t.text.endswith(ELLIPSIS) for t in self.texts())


def qr_matrix(data: str) -> tuple[tuple[tuple[bool, ...], ...], int]:
    code = qrcode.QRCode(version=None, error_correction=QR_LEVEL, border=0)
    code.add_data(data)
    code.make(fit=True)
    return tuple(tuple(bool(m) for m in row) for row in code.get_matrix()), code.version


# --- text fitting ---------------------------------------------------------------------------------


def line_box(text: str, weight: str, size: float) -> tuple[float, float]:
    """(baseline below the box's top, box height), in millimetres."""
    up, down = ink(text, weight)
    em = size * POINT
    above = max(up, ASCENT) * em
    return above, above + (max(down, DESCENT) + LINE_GAP) * em


def lines_height(lines: list[str], weight: str, size: float) -> float:
    return sum(line_box(line, weight, size)[1] for line in lines)


def wrap(text: str, weight: str, size: float, width: float) -> list[str]:
    """Greedy word wrap at spaces; a word is never split, so one wider than the line stands alone
    on its line, too wide (fit then sets the text smaller)."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if not current or width_mm(candidate, weight, size) <= width:
            current = candidate
            continue
        lines.append(current)
        current = word
    if current:
        lines.append(current)
    return lines


def _fits(lines: list[str], weight: str, size: float, width: float, max_lines: int) -> bool:
    return len(lines) <= max_lines and all(width_mm(line, weight, size) <= width for line in lines)


def _shortened(line: str, weight: str, size: float, width: float) -> str:
    """`line` less its last words (its last characters when one word is left), then "…"."""
    while width_mm(line + ELLIPSIS, weight, size) > width:
        words = line.split()
        line = " ".join(words[:-1]) if len(words) > 1 else line[:-1].rstrip()
        if not line:
            break
    return line + ELLIPSIS


def fit(
    text: str, weight: str, width: float, largest: float, smallest: float, max_lines: int
) -> tuple[float, list[str]]:
    """The largest size (in half points) at which `text` fits `max_lines` lines of `width`, wrapped
    at spaces only. A word too wide for the line even at `smallest` sets the text smaller still,
    down to WORD_FLOOR; whatever still does not fit there is shortened with an ellipsis."""
    text = printable(text, weight)
    size = largest
    while size >= smallest:
        lines = wrap(text, weight, size, width)
        if _fits(lines, weight, size, width, max_lines):
            return size, lines
        size -= 0.5
    widest = max((width_mm(word, weight, 1.0) for word in text.split()), default=0.0)
    size = smallest
    if widest * smallest > width:  # width_mm scales with the size
        size = max(WORD_FLOOR, math.floor(2 * width / widest) / 2)
    lines = wrap(text, weight, size, width)
    if _fits(lines, weight, size, width, max_lines):
        return size, lines
    lines = lines[:max_lines]
    lines[-1] = _shortened(lines[-1], weight, size, width)
    return size, [
        line if width_mm(line, weight, size) <= width else _shortened(line, weight, size, width) for line in lines
    ]


@dataclass
class _Column:
    """Stacks text lines downwards from `top`."""

    top: float
    items: list

    def lines(self, lines: list[str], x: float, size: float, weight: str, color: RGB, centered: bool = True) -> None:
        for line in lines:
            above, height = line_box(line, weight, size)
            self.items.append(TextLine(line, x, self.top + above, size, weight, color, centered))
            self.top += height

    def space(self, mm: float) -> None:
        self.top += mm


# --- the poster -----------------------------------------------------------------------------------


def poster_layout(words: PosterWords, qr_data: str) -> Layout:
    """Where everything goes. The venue's name is set as large as it can be (on two lines at most,
    its address on two or one) while the QR still comes out at QR_TARGET, else at 150 mm; a text
    shortened with "…" only when nothing else fits."""
    matrix, version = qr_matrix(qr_data)
    layouts: list[Layout] = []
    for block in _VENUE_BLOCKS:  # the usual case stops at the first
        layouts.append(_layout(words, matrix, version, qr_data, *block))
        if layouts[-1].qr.side >= QR_TARGET - 1e-6 and layouts[-1].whole:
            return layouts[-1]
    for floor, whole in ((QR_MIN, True), (QR_TARGET, False), (QR_MIN, False)):
        for layout in layouts:
            if layout.qr.side >= floor - 1e-6 and (layout.whole or not whole):
                return layout
    raise AssertionError("the poster's fixed parts leave no room for a 150 mm QR")  # pragma: no cover


# (largest name size in points, name lines, address lines), fullest first.
_VENUE_BLOCKS = tuple((size, 2, lines) for size in (28, 26, 24, 22, 20, 18, 17, NAME_MIN) for lines in (2, 1)) + (
    (NAME_MIN, 1, 1),
)


def _layout(
    words: PosterWords, matrix: tuple, version: int, qr_data: str, name_size: float, name_lines: int, address_lines: int
) -> Layout:
    items: list = []
    inner = PAGE_WIDTH - 2 * MARGIN
    centre = PAGE_WIDTH / 2

    # The band with the headline.
    col = _Column(3.0, items)
    size, lines = fit(words.headline, "extrabold", inner, 34, 20, 1)
    col.lines(lines, centre, size, "extrabold", WHITE)
    size, lines = fit(words.subheadline, "semibold", inner, 15, 10, 1)
    col.lines(lines, centre, size, "semibold", WHITE)
    band = col.top + 2.0
    items.insert(0, Box(0, 0, PAGE_WIDTH, band, BLUE))

    # The venue.
    col = _Column(band + 4.0, items)
    name_size, lines = fit(words.venue_name, "bold", inner, name_size, NAME_MIN, name_lines)
    col.lines(lines, centre, name_size, "bold", INK)
    col.space(0.5)
    size, lines = fit(words.venue_address, "regular", inner, 11, 8.5, address_lines)
    col.lines(lines, centre, size, "regular", MUTED)
    venue_bottom = col.top

    # The bottom block, laid out from the page's foot upwards.
    bottom: list = []
    foot = _Column(0.0, bottom)
    step_size, step_lines = 10.5, []
    step_width = (inner - 2 * 6.0) / 3
    for step in words.steps:
        size, lines = fit(step, "semibold", step_width - 11.0, 10.5, 8, 3)
        step_size = min(step_size, size)
        step_lines.append(lines)
    steps_height = max(max(lines_height(lines, "semibold", step_size) for lines in step_lines), 8.0)
    for i, lines in enumerate(step_lines):
        x = MARGIN + i * (step_width + 6.0)
        bottom.append(Circle(x + 4.0, foot.top + 4.0, 4.0, BLUE))
        bottom.append(TextLine(str(i + 1), x + 4.0, foot.top + 4.0 + 11 * POINT * 0.36, 11, "extrabold", WHITE, True))
        text = _Column(foot.top + max(0.0, (8.0 - lines_height(lines, "semibold", step_size)) / 2), bottom)
        text.lines(lines, x + 10.0, step_size, "semibold", INK, centered=False)
    foot.space(steps_height + 4.0)

    box_top = foot.top
    box_items: list = []
    inside = _Column(box_top + 3.0, box_items)
    size, lines = fit(words.manual_instruction, "regular", inner - 10, 12, 9, 2)
    inside.lines(lines, centre, size, "regular", INK)
    inside.space(1.0)
    size, lines = fit(words.manual_message, "extrabold", inner - 10, min(CODE_MAX, name_size - 2), CODE_MIN, 1)
    inside.lines(lines, centre, size, "extrabold", BLUE)
    inside.space(2.0)
    bottom.append(Box(MARGIN, box_top, inner, inside.top - box_top, LIGHT_BLUE, radius=3.0))
    bottom.extend(box_items)
    foot.top = inside.top + 2.5
    size, lines = fit(words.channels, "semibold", inner, 11, 8, 1)
    foot.lines(lines, centre, size, "semibold", INK)
    size, lines = fit(words.footer, "regular", inner, 8.5, 7, 1)
    foot.lines(lines, centre, size, "regular", MUTED)
    shift = PAGE_HEIGHT - 6.0 - foot.top  # the bottom block ends 6 mm above the page's edge
    items.extend(_moved(item, shift) for item in bottom)
    bottom_top = shift

    # The QR fills what is left between the two, its quiet zone included.
    n = len(matrix)
    room = bottom_top - venue_bottom
    side = min(QR_MAX, room / (1 + 2 * QUIET_MODULES / n), PAGE_WIDTH / (1 + 2 * QUIET_MODULES / n))
    module = side / n
    y = venue_bottom + (room - side) / 2
    items.append(QrCode((PAGE_WIDTH - side) / 2, y, module, matrix, version, QR_LEVEL_NAME, qr_data))
    return Layout(PAGE_WIDTH, PAGE_HEIGHT, words.title, tuple(items))


def _moved(item: Box | Circle | TextLine, dy: float) -> Box | Circle | TextLine:
    if isinstance(item, Box):
        return replace(item, y=item.y + dy)
    if isinstance(item, Circle):
        return replace(item, cy=item.cy + dy)
    return replace(item, baseline=item.baseline + dy)
