"""The printable check-in poster: one A4 layout (documents.posters.layout), drawn as a print-ready vector PDF
(documents.posters.pdf, reportlab) and as a PNG for phones (documents.posters.png, Pillow), in the Be Vietnam Pro font
that ships with the fontpkg-be-vietnam-pro package."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from documents.posters.layout import Layout, poster_layout
from documents.posters.words import PosterWords

__all__ = ["Poster", "PosterWords", "drawing", "make_poster", "make_poster_async", "poster_layout"]


@dataclass(frozen=True)
class Poster:
    layout: Layout
    pdf: bytes | None
    png: bytes | None


def make_poster(words: PosterWords, qr_data: str, *, pdf: bool = True, png: bool = True) -> Poster:
    """Lay the poster out once, then draw it with each back end asked for."""
    from documents.posters import pdf as pdf_backend
    from documents.posters import png as png_backend

    layout = poster_layout(words, qr_data)
    return Poster(
        layout,
        pdf_backend.draw(layout) if pdf else None,
        png_backend.draw(layout) if png else None,
    )


# Drawing takes a tenth of a second of CPU: the bot does it off the event loop, one at a time
# (reportlab's font registry is process-wide state).
_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="poster")


async def make_poster_async(words: PosterWords, qr_data: str) -> Poster:
    return await drawing(make_poster, words, qr_data)


async def drawing[T](work: Callable[..., T], *args: Any) -> T:
    """Run `work` (which draws posters) on the posters' one thread, off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(_worker, work, *args)
