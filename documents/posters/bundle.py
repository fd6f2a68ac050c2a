"""Many venues' posters at once: files named after each venue, an index listing them, and the same
set as one ZIP. The command line writes them to a folder (`posters --commune`), the dashboard sends
the ZIP."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from documents.posters.venue import PosterRequest, draw
from storage.folding import fold

if TYPE_CHECKING:
    from storage.models import Venue

INDEX_FILE = "index.csv"
SLUG_MAX = 60  # characters of the name in a file name: whole words, ASCII letters, digits and "-"


def file_stem(venue: Venue) -> str:
    """A poster's file name without extension: the venue's name folded to ASCII words joined by
    "-" (safe on Windows, in a zip, in a URL), then its code, which keeps names unique:
    "cho-dong-xuan-AB23CD7"; the code alone when the name has no Latin letter or digit."""
    slug = ""
    for word in fold(venue.name).encode("ascii", "ignore").decode().split():
        if len(slug) + len(word) + 1 > SLUG_MAX:
            break
        slug = f"{slug}-{word}" if slug else word
    return f"{slug}-{venue.code}" if slug else venue.code


def _cell(text: str) -> str:
    """A cell Excel shows as text: one starting with = + - @ would be read as a formula."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@") else text


def posters_index(rows: list[tuple[Venue, str]], kinds: tuple[str, ...]) -> str:
    """The index written beside a commune's posters: one row per venue, its code, name, address and
    its files; UTF-8 with a BOM, so that Excel shows the diacritics."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["code", "name", "address", *kinds])
    for venue, stem in rows:
        writer.writerow([venue.code, _cell(venue.name), _cell(venue.address), *(f"{stem}.{k}" for k in kinds)])
    return "\ufeff" + out.getvalue()


def poster_files(
    venues: Sequence[Venue], requests: Sequence[PosterRequest], kinds: tuple[str, ...]
) -> Iterator[tuple[str, bytes]]:
    """(file name, bytes) of each venue's posters in `kinds` ("pdf", "png"), drawn one venue at a
    time (each takes a tenth of a second), then the index."""
    stems = [file_stem(v) for v in venues]
    for request, stem in zip(requests, stems, strict=True):
        drawn = draw(request, pdf="pdf" in kinds, png="png" in kinds)
        for kind in kinds:
            data = drawn.pdf if kind == "pdf" else drawn.png
            assert data is not None  # drawn in the kinds asked for
            yield f"{stem}.{kind}", data
    yield INDEX_FILE, posters_index(list(zip(venues, stems, strict=True)), kinds).encode("utf-8")


def posters_zip(venues: Sequence[Venue], requests: Sequence[PosterRequest], kinds: tuple[str, ...] = ("pdf",)) -> bytes:
    """The posters and their index in one ZIP (stored, not compressed: PDFs barely shrink)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for name, data in poster_files(venues, requests, kinds):
            archive.writestr(name, data)
    return out.getvalue()
