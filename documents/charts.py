"""A unit's progress as one PNG for officials' phones, read at a glance: the title (wrapped, never
cut), a few notes (coverage, the target, how many units have no figures), the units furthest behind
and furthest ahead as bars against the target, and how many units fall in each band of rate.

Its height is bounded whatever the number of units: a province of 168 communes and a commune give
pictures of about the same size. The words come ready-made from the caller (handlers.progress).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache

from fontpkg_be_vietnam_pro import ROOT as FONT_ROOT
from PIL import Image, ImageDraw, ImageFont

WIDTH = 1080  # a phone screen's width in pixels: the image is shown without zooming
MARGIN = 36
ROW = 46
LABEL_WIDTH = 430  # where bars start: room for the longest commune name at 24 px
VALUE_ROOM = 130  # right of the 100% mark: the value label of a full bar
BAR_COLOURS = {"reached": (46, 125, 50), "behind": (230, 124, 35), "none": (189, 189, 189)}
# The bands' colours: against a target from far behind to reached; "plain" for rates without one.
BAND_COLOURS = {
    "far": (198, 40, 40),
    "half": (230, 124, 35),
    "near": (249, 168, 37),
    "reached": (46, 125, 50),
    "plain": (21, 101, 192),
}
TARGET_COLOUR = (198, 40, 40)
TEXT = (33, 33, 33)
MUTED = (90, 90, 90)
GRID = (230, 230, 230)
TITLE_SIZE, TITLE_LEAD = 34, 46
NOTE_SIZE, NOTE_LEAD = 25, 36
HEADING_SIZE, HEADING_LEAD = 27, 44
LABEL_SIZES = (24, 22, 20)  # a long name is set smaller before it is shortened


@dataclass(frozen=True)
class Bar:
    label: str
    rate: Fraction | None
    target: Fraction | None
    value_label: str  # "47,59%", formatted by the caller for the locale


@dataclass(frozen=True)
class Band:
    """A bar of the distribution: how many units fall in one band of rate."""

    label: str
    count: int
    value_label: str  # the count, formatted by the caller ("12")
    state: str = "plain"  # a key of BAND_COLOURS


@dataclass(frozen=True)
class Section:
    heading: str
    bars: list[Bar]


@dataclass(frozen=True)
class Glance:
    title: str
    notes: list[str] = field(default_factory=list)  # short sentences under the title
    sections: list[Section] = field(default_factory=list)  # at most a dozen bars in all
    distribution_heading: str = ""
    bands: list[Band] = field(default_factory=list)  # far behind first
    target_label: str | None = None  # shown over the bars' target line when all share one


@lru_cache(maxsize=16)
def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    name = "BeVietnamPro-SemiBold.ttf" if bold else "BeVietnamPro-Regular.ttf"
    return ImageFont.truetype(str(FONT_ROOT / "files" / name), size)


def _measure() -> ImageDraw.ImageDraw:
    return ImageDraw.Draw(Image.new("RGB", (1, 1)))


def wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """`text` in lines no wider than `width`, broken between words; every word is kept (a word wider
    than the line gets a line of its own and runs over, rather than being cut)."""
    draw = _measure()
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}" if line else word
            if line and draw.textlength(candidate, font=font) > width:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(line)
    return lines


def balanced_wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """`wrap` into as few lines as at `width`, but as even as they go: no date left alone on the last line."""
    lines = wrap(text, font, width)
    low, high = width // 2, width
    while low < high:  # the narrowest width that needs no more lines
        middle = (low + high) // 2
        if len(wrap(text, font, middle)) <= len(lines):
            high = middle
        else:
            low = middle + 1
    return wrap(text, font, high)


def _fit(draw: ImageDraw.ImageDraw, text: str, width: int) -> tuple[str, ImageFont.FreeTypeFont]:
    """A bar's label in the largest size it fits at; shortened with an ellipsis only below the smallest."""
    for size in LABEL_SIZES:
        font = _font(size)
        if draw.textlength(text, font=font) <= width:
            return text, font
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…", font


@dataclass(frozen=True)
class Layout:
    """Where everything goes: the wrapped title and notes, each section's and the distribution's
    top, and the picture's height."""

    title_lines: list[str]
    note_lines: list[str]
    section_tops: list[int]
    distribution_top: int | None
    height: int


def layout(glance: Glance) -> Layout:
    text_width = WIDTH - 2 * MARGIN
    title_lines = balanced_wrap(glance.title, _font(TITLE_SIZE, True), text_width)
    note_lines = [line for note in glance.notes for line in wrap(note, _font(NOTE_SIZE), text_width)]
    y = MARGIN + TITLE_LEAD * len(title_lines) + 8 + NOTE_LEAD * len(note_lines) + 12
    section_tops = []
    for section in glance.sections:
        section_tops.append(y)
        # heading, the target's label row, the bars, the scale under them
        y += (HEADING_LEAD if section.heading else 0) + 30 + ROW * len(section.bars) + 40
    distribution_top = None
    if glance.bands:
        distribution_top = y
        y += HEADING_LEAD + ROW * len(glance.bands) + 8
    return Layout(title_lines, note_lines, section_tops, distribution_top, y + MARGIN)


def glance_chart(glance: Glance) -> bytes:
    """The PNG of `glance` (see the module's docstring)."""
    plan = layout(glance)
    image = Image.new("RGB", (WIDTH, plan.height), "white")
    draw = ImageDraw.Draw(image)
    y = MARGIN
    for line in plan.title_lines:
        draw.text((MARGIN, y), line, font=_font(TITLE_SIZE, True), fill=TEXT)
        y += TITLE_LEAD
    y += 8
    for line in plan.note_lines:
        draw.text((MARGIN, y), line, font=_font(NOTE_SIZE), fill=MUTED)
        y += NOTE_LEAD
    for section, top in zip(glance.sections, plan.section_tops, strict=True):
        _draw_section(draw, section, top, glance.target_label)
    if plan.distribution_top is not None:
        _draw_distribution(draw, glance, plan.distribution_top)
    out = io.BytesIO()
    # A handful of flat colours: a palette image is a third of the size and saves ten times faster.
    image.quantize(colors=64, method=Image.Quantize.FASTOCTREE).save(out, format="PNG")
    return out.getvalue()


def _draw_section(draw: ImageDraw.ImageDraw, section: Section, top: int, target_label: str | None) -> None:
    if section.heading:
        draw.text((MARGIN, top), section.heading, font=_font(HEADING_SIZE, True), fill=TEXT)
        top += HEADING_LEAD
    x0, x1 = LABEL_WIDTH, WIDTH - VALUE_ROOM
    span = x1 - x0

    def x(fraction: Fraction) -> int:
        return x0 + int(span * min(Fraction(1), max(Fraction(0), fraction)))

    bars_top = top + 30
    bottom = bars_top + ROW * len(section.bars)
    for i in range(0, 101, 20):  # the scale
        gx = x(Fraction(i, 100))
        draw.line([(gx, bars_top - 4), (gx, bottom + 2)], fill=GRID, width=1)
        draw.text((gx, bottom + 6), f"{i}%", font=_font(19), fill=(117, 117, 117), anchor="ma")
    targets = {b.target for b in section.bars}
    shared = next(iter(targets)) if len(targets) == 1 else None
    if shared is not None and target_label:  # drawn first, so the bars' value labels stay readable on top of it
        tx = x(shared)
        draw.line([(tx, bars_top - 6), (tx, bottom)], fill=TARGET_COLOUR, width=2)
        draw.text(
            (min(tx, WIDTH - MARGIN - 120), bars_top - 32), target_label, font=_font(21, True), fill=TARGET_COLOUR
        )
    for n, bar in enumerate(section.bars):
        y = bars_top + n * ROW
        label, font = _fit(draw, bar.label, LABEL_WIDTH - MARGIN - 14)
        draw.text((LABEL_WIDTH - 14, y + ROW // 2), label, font=font, fill=TEXT, anchor="rm")
        if bar.rate is None:
            state = "none"
        elif bar.target is not None and bar.rate >= bar.target:
            state = "reached"
        else:
            state = "behind"
        end = x(bar.rate) if bar.rate is not None else x0 + 6
        draw.rectangle([(x0, y + 8), (max(end, x0 + 3), y + ROW - 8)], fill=BAR_COLOURS[state])
        if bar.target is not None:
            tx = x(bar.target)
            draw.line([(tx, y + 2), (tx, y + ROW - 2)], fill=TARGET_COLOUR, width=4)
        label_font = _font(22, True)
        box = draw.textbbox((end + 8, y + ROW // 2), bar.value_label, font=label_font, anchor="lm")
        draw.rectangle([(box[0] - 3, box[1] - 3), (box[2] + 3, box[3] + 3)], fill="white")
        draw.text((end + 8, y + ROW // 2), bar.value_label, font=label_font, fill=TEXT, anchor="lm")


def _draw_distribution(draw: ImageDraw.ImageDraw, glance: Glance, top: int) -> None:
    draw.text((MARGIN, top), glance.distribution_heading, font=_font(HEADING_SIZE, True), fill=TEXT)
    x0, x1 = LABEL_WIDTH, WIDTH - VALUE_ROOM
    most = max((b.count for b in glance.bands), default=0) or 1
    for n, band in enumerate(glance.bands):
        y = top + HEADING_LEAD + n * ROW
        label, font = _fit(draw, band.label, LABEL_WIDTH - MARGIN - 14)
        draw.text((LABEL_WIDTH - 14, y + ROW // 2), label, font=font, fill=TEXT, anchor="rm")
        end = x0 + (x1 - x0) * band.count // most
        if band.count:
            draw.rectangle([(x0, y + 8), (max(end, x0 + 3), y + ROW - 8)], fill=BAND_COLOURS[band.state])
        draw.text((end + 10, y + ROW // 2), band.value_label, font=_font(22, True), fill=TEXT, anchor="lm")
