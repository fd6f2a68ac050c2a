"""What the dashboard shows beside a tally: each commune's first and last installed count (the
straight line to the target starts at the first) and who entered the last one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OfficialFigure, RoleGrant
from storage.roles import RANK, Role
from storage.units import database_scheme


@dataclass(frozen=True)
class Entry:
    as_of: dt.date
    installed: int
    entered_by: int | None
    source: str


@dataclass(frozen=True)
class Ends:
    first: Entry
    last: Entry
    points: tuple[tuple[dt.date, int], ...]  # every installed count, oldest first (the curve)


async def installed_ends(session: AsyncSession, codes: Sequence[str] | None, as_of: dt.date) -> dict[str, Ends]:
    """Per unit of the database's map (a commune, or a district's or province's own figure), its
    installed counts up to `as_of`, the first and the last apart (one query, in date order)."""
    stmt = select(
        OfficialFigure.unit_code,
        OfficialFigure.as_of,
        OfficialFigure.installed,
        OfficialFigure.entered_by,
        OfficialFigure.source,
    ).where(
        OfficialFigure.installed.is_not(None),
        OfficialFigure.as_of <= as_of,
        OfficialFigure.scheme == await database_scheme(session),  # history on the other map is not drawn
    )
    if codes is not None:
        stmt = stmt.where(OfficialFigure.unit_code.in_(list(codes)))
    stmt = stmt.order_by(OfficialFigure.unit_code, OfficialFigure.as_of, OfficialFigure.entered_at, OfficialFigure.id)
    found: dict[str, list[Entry]] = {}
    for code, day, installed, by, source in (await session.execute(stmt)).all():
        found.setdefault(code, []).append(Entry(day, installed or 0, by, source))  # never None: filtered above
    return {
        code: Ends(entries[0], entries[-1], tuple((e.as_of, e.installed) for e in entries))
        for code, entries in found.items()
    }


async def highest_roles(session: AsyncSession, user_ids: set[int]) -> dict[int, Role]:
    """Each person's highest role held now (for "entered by a province officer"): no names."""
    if not user_ids:
        return {}
    stmt = select(RoleGrant.user_id, RoleGrant.role).where(
        RoleGrant.user_id.in_(sorted(user_ids)), RoleGrant.revoked_at.is_(None)
    )
    found: dict[int, Role] = {}
    for user_id, role in (await session.execute(stmt)).all():
        if user_id not in found or RANK[Role(role)] > RANK[found[user_id]]:
            found[user_id] = Role(role)
    return found
