"""Support points: the CSV import officials run, and the listing for a commune."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.csv_rows import known_communes, read_rows
from storage.db import dialect_insert
from storage.models import SupportPoint, utcnow

COLUMNS = ("commune_code", "name", "address", "opening_hours", "phone", "latitude", "longitude")
REQUIRED = ("commune_code", "name", "address")


@dataclass
class ImportReport:
    imported: int = 0
    errors: list[str] = field(default_factory=list)


async def in_commune(session: AsyncSession, commune_code: str) -> list[SupportPoint]:
    stmt = select(SupportPoint).where(SupportPoint.commune_code == commune_code).order_by(SupportPoint.name)
    return list((await session.scalars(stmt)).all())


async def import_csv(session: AsyncSession, text: str) -> ImportReport:
    """Insert or update support points from CSV text (header row; see README for the columns).

    A row with the same commune and name as an existing point updates it, so officials can
    re-import a corrected file. Rows with errors are reported by line and skipped; the others
    are imported.
    """
    report = ImportReport()
    parsed, problem = read_rows(text, REQUIRED)
    if problem:
        report.errors.append(problem)
        return report
    known = await known_communes(session)
    rows: list[dict[str, Any]] = []
    for line, row in parsed:
        code = row["commune_code"]
        if code not in known:
            report.errors.append(f"line {line}: unknown commune code {code!r}")
            continue
        if not row.get("name") or not row.get("address"):
            report.errors.append(f"line {line}: name and address are required")
            continue
        try:
            lat = float(row["latitude"]) if row.get("latitude") else None
            lon = float(row["longitude"]) if row.get("longitude") else None
        except ValueError:
            report.errors.append(f"line {line}: latitude/longitude must be numbers")
            continue
        rows.append(
            {
                "commune_code": code,
                "name": row["name"][:200],
                "address": row["address"][:300],
                "opening_hours": row.get("opening_hours", "")[:200],
                "phone": row.get("phone", "")[:40],
                "latitude": lat,
                "longitude": lon,
                "updated_at": utcnow(),
            }
        )
    for row in rows:
        stmt = dialect_insert(session, SupportPoint).values(**row)
        stmt = stmt.on_conflict_do_update(
            index_elements=["commune_code", "name"],
            set_={
                c: stmt.excluded[c]
                for c in ("address", "opening_hours", "phone", "latitude", "longitude", "updated_at")
            },
        )
        await session.execute(stmt)
    report.imported = len(rows)
    return report
