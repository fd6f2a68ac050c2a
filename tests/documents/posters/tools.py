"""Reading a poster back without trusting our own code: poppler draws the PDF, zxing-cpp reads the QR."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import zxingcpp
from PIL import Image


def rasterise(pdftoppm: str, pdf: bytes, tmp_path: Path, dpi: int = 100) -> Image.Image:
    """The PDF's first page as an image, drawn by poppler (not by our code)."""
    source = tmp_path / "poster.pdf"
    source.write_bytes(pdf)
    subprocess.run([pdftoppm, "-r", str(dpi), "-png", "-singlefile", str(source), str(tmp_path / "page")], check=True)
    return Image.open(tmp_path / "page.png").convert("RGB")


def decode_qr(image: Image.Image) -> tuple[str, dict, float]:
    """The QR's text, zxing's details (Version, ECLevel) and its side in pixels, read by zxing-cpp."""
    (found,) = [b for b in zxingcpp.read_barcodes(image) if b.format == zxingcpp.BarcodeFormat.QRCode]
    p = found.position
    side = max(abs(p.top_right.x - p.top_left.x), abs(p.bottom_left.y - p.top_left.y))
    return found.text, found.extra, float(side)


def as_telegram_photo(png: bytes) -> Image.Image:
    """What a phone gets when Telegram recompresses a photo: JPEG, longest side 1280 pixels."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    image.thumbnail((1280, 1280))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return Image.open(io.BytesIO(buffer.getvalue()))
