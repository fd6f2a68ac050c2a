"""The poster's font, Be Vietnam Pro (OFL-1.1), from the fontpkg-be-vietnam-pro package: never a
system font a fresh machine may lack. One set of metrics (reportlab's) measures text for both
back ends, so the PDF and the PNG break lines in the same places."""

from __future__ import annotations

import functools
import unicodedata
from pathlib import Path

import fontpkg

FAMILY = "Be Vietnam Pro"
# The weights the layout uses, by name.
WEIGHTS = {"regular": 400, "semibold": 600, "bold": 700, "extrabold": 800}
POINT = 25.4 / 72  # millimetres per typographic point


def path(weight: str) -> Path:
    return fontpkg.path(FAMILY, weight=WEIGHTS[weight])


def pdf_name(weight: str) -> str:
    """The font's name in reportlab, registered on first use (once per process)."""
    return _registered(weight)


@functools.cache
def _registered(weight: str) -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    name = f"BeVietnamPro-{weight}"
    pdfmetrics.registerFont(TTFont(name, str(path(weight))))
    return name


@functools.cache
def _covered(weight: str) -> frozenset[int]:
    from reportlab.pdfbase import pdfmetrics

    return frozenset(pdfmetrics.getFont(pdf_name(weight)).face.charToGlyph)


def printable(text: str, weight: str) -> str:
    """NFC text with only the characters the font has (a venue name may carry an emoji);
    decomposed accents would print as loose marks, so everything is composed first."""
    text = unicodedata.normalize("NFC", text)
    covered = _covered(weight)
    return "".join(ch for ch in text if ord(ch) in covered or ch == " ")


def width_mm(text: str, weight: str, size: float) -> float:
    from reportlab.pdfbase import pdfmetrics

    return pdfmetrics.stringWidth(text, pdf_name(weight), size) * POINT


@functools.cache
def _glyph_ink(weight: str, ch: str) -> tuple[float, float]:
    font = _pil_font(weight, 1000)
    box = font.getbbox(ch, anchor="ls")  # relative to the baseline: negative is above it
    if box[2] <= box[0]:  # a space: no ink
        return 0.0, 0.0
    return -box[1] / 1000, box[3] / 1000


@functools.cache
def _pil_font(weight: str, pixels: float):
    from PIL import ImageFont

    # BASIC layout: advance widths only, as the PDF sets the text (and as the layout measured it).
    return ImageFont.truetype(str(path(weight)), pixels, layout_engine=ImageFont.Layout.BASIC)


def pil_font(weight: str, pixels: float):
    return _pil_font(weight, pixels)


def ink(text: str, weight: str) -> tuple[float, float]:
    """How far the text's glyphs reach above and below the baseline, in em."""
    # Stacked capitals (Ẫ, Ế) reach 1.23 em in the heaviest weight, dots below (ự, ặ) 0.25 under.
    extents = [_glyph_ink(weight, ch) for ch in set(text)]
    return max((e[0] for e in extents), default=0.0), max((e[1] for e in extents), default=0.0)
