"""The database's units (codes, names, hierarchy) kept in memory per process, for tallies.

The unit tables change only when units are loaded or re-mapped; a tally of the country used to
read all 3,321 communes with their names each time. Database triggers change a random token
(unit_list_versions, migration 0017) with every change to provinces, districts or communes,
whoever makes it, so a process reads the token (one row) and keeps its copy while the token is
the same: several workers, each with its own copy, all see a change at their next tally. Only
units are kept here, never a figure or a count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Commune, District, Province, UnitListVersion
from storage.unit_map import DEFAULT_SCHEME

# A process talks to one database, or a few (tests, benchmarks): keep the last few lists.
KEPT = 4


class CommuneUnit(NamedTuple):
    code: str
    name: str
    province_code: str
    province_name: str
    district_code: str  # "" on today's map (no districts)
    district_name: str


@dataclass(frozen=True)
class UnitList:
    token: str | None
    scheme: str
    # In the order tallies list them: by province, district (on the pre-2025 map), then name.
    communes: tuple[CommuneUnit, ...]
    names: dict[str, str] = field(default_factory=dict)  # provinces', districts' and communes' names
    by_province: dict[str, tuple[int, ...]] = field(default_factory=dict)  # positions in `communes`
    by_district: dict[str, tuple[int, ...]] = field(default_factory=dict)
    position: dict[str, int] = field(default_factory=dict)

    def of(self, code: str, level: str) -> list[CommuneUnit]:
        """The communes of a unit of this list (any level), in their order."""
        if level == "country":
            return list(self.communes)
        if level == "province":
            found: Sequence[int] = self.by_province.get(code, ())
        elif level == "district":
            found = self.by_district.get(code, ())
        else:
            found = (self.position[code],) if code in self.position else ()
        return [self.communes[i] for i in found]


_kept: dict[str, UnitList] = {}


async def unit_list(session: AsyncSession) -> UnitList:
    """The database's unit list: this process's copy while the stored token says it is current."""
    # Through the session (not its connection): counter deltas it holds for COMMIT are written
    # first, as before any read in this transaction (storage/counters.py).
    token = await session.scalar(select(UnitListVersion.token).limit(1))
    kept = _kept.get(token) if token is not None else None
    if kept is not None:
        return kept
    # The token is read again in the same statement as the units: the copy is kept under the token
    # its rows go with, even when units change between the two reads.
    stmt = (
        select(
            Commune.code,
            Commune.name,
            Commune.province_code,
            Province.name,
            Commune.district_code,
            District.name,
            Province.scheme,
            select(UnitListVersion.token).limit(1).scalar_subquery(),
        )
        .join(Province, Province.code == Commune.province_code)
        .outerjoin(District, District.code == Commune.district_code)
        .order_by(Commune.province_code, Commune.district_code, Commune.name)
    )
    rows = (await session.execute(stmt)).all()
    communes = tuple(CommuneUnit(r[0], r[1], r[2], r[3], r[4] or "", r[5] or "") for r in rows)
    names: dict[str, str] = {}
    by_province: dict[str, list[int]] = {}
    by_district: dict[str, list[int]] = {}
    for i, c in enumerate(communes):
        names[c.code] = c.name
        names[c.province_code] = c.province_name
        by_province.setdefault(c.province_code, []).append(i)
        if c.district_code:
            names[c.district_code] = c.district_name
            by_district.setdefault(c.district_code, []).append(i)
    # Units without communes (a province or district whose communes are not loaded) keep their names.
    for model in (Province, District):
        for code, name in (await session.execute(select(model.code, model.name))).all():
            names.setdefault(code, name)
    scheme = rows[0][6] if rows else (await session.scalar(select(Province.scheme).limit(1)) or DEFAULT_SCHEME)
    read_token = rows[0][7] if rows else token
    result = UnitList(
        read_token,
        scheme,
        communes,
        names,
        {k: tuple(v) for k, v in by_province.items()},
        {k: tuple(v) for k, v in by_district.items()},
        {c.code: i for i, c in enumerate(communes)},
    )
    if read_token is not None:
        while len(_kept) >= KEPT:
            _kept.pop(next(iter(_kept)))
        _kept[read_token] = result
    return result


def forget() -> None:
    """Drop every kept list (tests that compare a fresh read)."""
    _kept.clear()
