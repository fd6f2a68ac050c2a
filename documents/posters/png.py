"""Draws a poster layout as a PNG for phones with Pillow: the same layout as the PDF, rasterised
at 150 dpi (1240 × 1754 pixels), with the same font files."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

from documents.posters.fonts import POINT, pil_font
from documents.posters.layout import Box, Circle, Layout, QrCode, TextLine

DPI = 150


def draw(layout: Layout, dpi: int = DPI) -> bytes:
    scale = dpi / 25.4  # pixels per millimetre
    px = lambda v: round(v * scale)
    image = Image.new("RGB", (px(layout.width), px(layout.height)), "white")
    canvas = ImageDraw.Draw(image)
    for item in layout.items:
        if isinstance(item, Box):
            shape = (px(item.x), px(item.y), px(item.x + item.w) - 1, px(item.y + item.h) - 1)
            if item.radius:
                canvas.rounded_rectangle(shape, radius=px(item.radius), fill=item.fill)
            else:
                canvas.rectangle(shape, fill=item.fill)
        elif isinstance(item, Circle):
            canvas.ellipse(
                (px(item.cx - item.r), px(item.cy - item.r), px(item.cx + item.r), px(item.cy + item.r)), fill=item.fill
            )
        elif isinstance(item, TextLine):
            font = pil_font(item.weight, item.size * POINT * scale)
            anchor = "ms" if item.centered else "ls"  # middle or left, on the baseline
            canvas.text((item.x * scale, item.baseline * scale), item.text, font=font, fill=item.color, anchor=anchor)
        elif isinstance(item, QrCode):
            for row, col, length in item.runs():
                # Edges rounded once each, so neighbouring modules meet without seams or overlaps.
                left, right = px(item.x + col * item.module), px(item.x + (col + length) * item.module)
                top, bottom = px(item.y + row * item.module), px(item.y + (row + 1) * item.module)
                canvas.rectangle((left, top, right - 1, bottom - 1), fill="black")
    out = io.BytesIO()
    image.save(out, format="PNG", dpi=(dpi, dpi))
    return out.getvalue()
