"""Bar charts as PNG for officials' phones: one horizontal bar per commune, the target as a line."""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from fontpkg_be_vietnam_pro import ROOT as FONT_ROOT
from PIL import Image, ImageDraw, ImageFont

WIDTH = 1080  # a phone screen's width in pixels: the image is shown without zooming
ROW = 46
LABEL_WIDTH = 400
MARGIN = 24
BAR_COLOURS = {"reached": (46, 125, 50), "behind": (230, 124, 35), "none": (189, 189, 189)}
TARGET_COLOUR = (198, 40, 40)
TEXT = (33, 33, 33)


@dataclass(frozen=True)
class Bar:
    label: str
    rate: Fraction | None
    target: Fraction | None
    value_label: str  # "47,59%", formatted by the caller for the locale


@lru_cache(maxsize=8)
def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    name = "BeVietnamPro-SemiBold.ttf" if bold else "BeVietnamPro-Regular.ttf"
    return ImageFont.truetype(str(FONT_ROOT / "files" / name), size)


def _fit(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, width: int) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def bar_chart(title: str, bars: list[Bar], target_label: str | None = None) -> bytes:
    """A PNG: the title, then one bar per entry (0–100%), each commune's target as a red mark
    and, when every bar shares one target, a red line across with `target_label`."""
    top = 110
    height = top + ROW * max(1, len(bars)) + 60
    image = Image.new("RGB", (WIDTH, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text((MARGIN, 24), _fit(draw, title, _font(32, True), WIDTH - 2 * MARGIN), font=_font(32, True), fill=TEXT)
    x0 = LABEL_WIDTH
    x1 = WIDTH - 150
    span = x1 - x0

    def x(fraction: Fraction) -> int:
        return x0 + int(span * min(Fraction(1), max(Fraction(0), fraction)))

    for i in range(0, 101, 20):  # the scale
        gx = x(Fraction(i, 100))
        draw.line([(gx, top - 10), (gx, height - 50)], fill=(230, 230, 230), width=1)
        draw.text((gx - 14, height - 44), f"{i}%", font=_font(20), fill=(117, 117, 117))
    targets = {b.target for b in bars}
    shared = next(iter(targets)) if len(targets) == 1 else None
    if shared is not None and target_label:  # drawn first, so the bars' value labels stay readable on top of it
        tx = x(shared)
        draw.line([(tx, top - 12), (tx, top + ROW * len(bars))], fill=TARGET_COLOUR, width=2)
        draw.text((min(tx + 6, WIDTH - 200), top - 40), target_label, font=_font(22, True), fill=TARGET_COLOUR)
    for n, bar in enumerate(bars):
        y = top + n * ROW
        draw.text(
            (MARGIN, y + 8), _fit(draw, bar.label, _font(24), LABEL_WIDTH - MARGIN - 12), font=_font(24), fill=TEXT
        )
        if bar.rate is None:
            state = "none"
        elif bar.target is not None and bar.rate >= bar.target:
            state = "reached"
        else:
            state = "behind"
        end = x(bar.rate) if bar.rate is not None else x0 + 6
        draw.rectangle([(x0, y + 8), (max(end, x0 + 2), y + ROW - 8)], fill=BAR_COLOURS[state])
        if bar.target is not None:
            tx = x(bar.target)
            draw.line([(tx, y + 2), (tx, y + ROW - 2)], fill=TARGET_COLOUR, width=4)
        label_font = _font(22, True)
        box = draw.textbbox((end + 8, y + 8), bar.value_label, font=label_font)
        draw.rectangle([(box[0] - 3, box[1] - 2), (box[2] + 3, box[3] + 2)], fill="white")
        draw.text((end + 8, y + 8), bar.value_label, font=label_font, fill=TEXT)
    out = io.BytesIO()
    # A handful of flat colours: a palette image is a third of the size and saves ten times faster.
    image.quantize(colors=64, method=Image.Quantize.FASTOCTREE).save(out, format="PNG")
    return out.getvalue()
