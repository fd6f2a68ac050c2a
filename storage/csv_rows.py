"""The CSV files officials import (support points, venues): rows with line numbers, tidy values."""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Commune


def commune_code(value: str) -> str:
    """A GSO commune code as people write it: "70" is "00070" (spreadsheets drop leading zeros)."""
    value = value.strip()
    return value.zfill(5) if value.isdigit() else value


def read_rows(text: str, required: Iterable[str]) -> tuple[list[tuple[int, dict[str, str]]], str | None]:
    """(line number, values stripped and NFC) for each data row, with "commune_code" normalised;
    or no rows and the reason when the header lacks a required column."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in required if c not in header]
    if missing:
        return [], f"missing column(s): {', '.join(missing)}"
    rows = []
    for line, raw in enumerate(reader, start=2):
        row = {k.strip(): unicodedata.normalize("NFC", (v or "").strip()) for k, v in raw.items() if k}
        row["commune_code"] = commune_code(row.get("commune_code", ""))
        rows.append((line, row))
    return rows, None


async def known_communes(session: AsyncSession) -> set[str]:
    return set((await session.scalars(select(Commune.code))).all())
