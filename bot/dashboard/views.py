"""What a unit's page shows, computed once and shown three ways (the page, its XLSX, its CSV):
the unit's figures against its target, and its units one level down, sorted and filtered as the
person asked.

Units are walked as "a unit, its parent, its children" (`parent_of`, `children_of`): country →
provinces → communes on today's map, with districts between on the pre-2025 one.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import visits
from storage.dashboard_figures import Ends, Entry, highest_roles, installed_ends
from storage.models import Commune, District
from storage.roles import Role
from storage.tally import Tally, TallyRow, people_needed, tally
from storage.unit_map import LEVELS, SCHEME_2025
from storage.units import COUNTRY_CODE, unit_level

SORTS = ("name", "rate", "gap", "pace", "last", "installed")
MAX_STALE_DAYS = 365


@dataclass(frozen=True)
class Query:
    """The table's sorting and filters, read from the address (so a link or an export is the same view)."""

    sort: str = "name"
    descending: bool = False
    behind: bool = False  # only units behind the straight line to their target
    stale: int | None = None  # only units with no figure for this many days (or none at all)

    @classmethod
    def read(cls, params: Mapping[str, str]) -> Query:
        sort = params.get("sort", "name")
        stale = params.get("stale", "")
        days = int(stale) if stale.isdigit() and 0 < int(stale) <= MAX_STALE_DAYS else None
        return cls(
            sort=sort if sort in SORTS else "name",
            descending=params.get("order") == "desc",
            behind=params.get("behind") == "1",
            stale=days,
        )

    def params(self, **changes: object) -> dict[str, str]:
        """The address's parameters of this view, with `changes`; defaults left out."""
        values = {"sort": self.sort, "descending": self.descending, "behind": self.behind, "stale": self.stale}
        values.update(changes)
        out: dict[str, str] = {}
        if values["sort"] != "name":
            out["sort"] = str(values["sort"])
        if values["descending"]:
            out["order"] = "desc"
        if values["behind"]:
            out["behind"] = "1"
        if values["stale"]:
            out["stale"] = str(values["stale"])
        return out


@dataclass
class UnitRow:
    """A unit with what the page says about it beyond its tally row."""

    row: TallyRow
    expected: int | None  # where it should be today on the straight line to its target
    last: Entry | None  # its latest installed count (of any of its communes)
    entered_by: Role | None = None  # the role of whoever entered `last` (no names)
    start: tuple[dt.date, int] | None = None  # where its straight line to the target starts
    curve: list[tuple[dt.date, int]] = field(default_factory=list)  # installed over time (the page's unit only)

    @property
    def code(self) -> str:
        return self.row.code

    @property
    def behind_by(self) -> int | None:
        """People short of the straight line today (0 when on or above it)."""
        if self.expected is None or self.row.installed is None:
            return None
        return max(0, self.expected - self.row.installed)

    @property
    def from_file(self) -> bool:
        """The latest count came from an imported file (official_figures.source "import:<file>")."""
        return self.last is not None and self.last.source.startswith("import")

    def days_without_figures(self, today: dt.date) -> int | None:
        return None if self.row.installed_on is None else (today - self.row.installed_on).days


@dataclass
class UnitView:
    code: str
    level: str
    name: str  # "" for the country (named by the content)
    parent: str | None
    as_of: dt.date
    unit: UnitRow
    children: list[UnitRow]
    query: Query
    hamlets: list[visits.HamletSummary] = field(default_factory=list)
    shown_total: int = 0  # children before filtering
    scheme: str = SCHEME_2025  # the map the database runs on (storage.unit_map): what the codes mean
    kinds: frozenset[str] = frozenset()  # the division types of its communes, for the coverage's words

    def as_tally(self, name: str) -> Tally:
        """The rows on screen, for the exports."""
        return Tally(self.code, name, self.as_of, [c.row for c in self.children], self.unit.row)


def straight_line(row: TallyRow, start: tuple[dt.date, int] | None, today: dt.date) -> int | None:
    """Installs the unit should have today, on the straight line from its first count to the
    people its target needs by the deadline; None without a target, a count or a denominator."""
    target, denominator = row.target, row.denominator
    if target is None or start is None or not denominator:
        return None
    needed = people_needed(target.rate, denominator)
    day0, count0 = start
    if today >= target.deadline or day0 >= target.deadline:
        return needed
    if today <= day0:
        return count0
    share = Fraction((today - day0).days, (target.deadline - day0).days)
    return count0 + math.floor((needed - count0) * share)


def _start(ends: list[Ends]) -> tuple[dt.date, int] | None:
    """A group's first count: the earliest date of its communes' first counts, with their sum."""
    if not ends:
        return None
    return min(e.first.as_of for e in ends), sum(e.first.installed for e in ends)


def _last(ends: list[Ends]) -> Entry | None:
    return max((e.last for e in ends), key=lambda e: e.as_of, default=None)


def _unit_row(row: TallyRow, communes: list[str], ends: dict[str, Ends], today: dt.date) -> UnitRow:
    mine = [ends[c] for c in communes if c in ends]
    start = _start(mine)
    return UnitRow(row, straight_line(row, start, today), _last(mine), start=start)


def curve(communes: list[str], ends: dict[str, Ends]) -> list[tuple[dt.date, int]]:
    """The unit's installed count on each date a count was entered: every commune's latest count
    by then, summed (a commune counts from its first figure on)."""
    events = sorted((day, code, count) for code in communes if code in ends for day, count in ends[code].points)
    latest: dict[str, int] = {}
    total, points = 0, list[tuple[dt.date, int]]()
    for day, code, count in events:
        total += count - latest.get(code, 0)
        latest[code] = count
        if points and points[-1][0] == day:
            points[-1] = (day, total)
        else:
            points.append((day, total))
    return points


# --- the map: a unit, its parent, its children (the levels are the campaign map's) -------------


async def parent_of(db: AsyncSession, code: str) -> str | None:
    level = unit_level(code)
    if level == "commune":
        commune = await db.get(Commune, code)
        return (commune.district_code or commune.province_code) if commune else None
    if level == "district":
        district = await db.get(District, code)
        return district.province_code if district else None
    return COUNTRY_CODE if level == "province" else None


def child_level(level: str, scheme: str = SCHEME_2025) -> str | None:
    """The kind of unit one level down on the campaign's map (its words: dashboard.unit.children.<kind>)."""
    levels = LEVELS[scheme]
    below = levels.index(level) + 1
    return levels[below] if below < len(levels) else None


def children_of(result: Tally) -> list[tuple[TallyRow, list[str]]]:
    """The units one level down as the tally rolled them up (districts on the pre-2025 map), each
    with its communes; none below a commune."""
    if unit_level(result.unit_code) == "commune":
        return []
    members: dict[str, list[str]] = {}
    for r in result.rows:
        for unit in {r.code, r.district_code, r.province_code} - {""}:
            members.setdefault(unit, []).append(r.code)
    return [(child, members.get(child.code, [])) for child in result.children]


async def unit_view(db: AsyncSession, code: str, today: dt.date, query: Query) -> UnitView:
    """The unit's page as of `today`. Raises LookupError for a unit that does not exist."""
    level = unit_level(code)
    result = await tally(db, code, today)
    if level != "country" and not result.rows:
        raise LookupError(code)
    communes = [r.code for r in result.rows]
    ends = await installed_ends(db, None if level == "country" else communes, today)
    unit = _unit_row(result.totals, communes, ends, today)
    unit.curve = curve(communes, ends)
    children = [_unit_row(row, members, ends, today) for row, members in children_of(result)]
    hamlets = await visits.hamlet_summaries(db, code) if level == "commune" else []
    everyone = [unit, *children]
    roles = await highest_roles(db, {r.last.entered_by for r in everyone if r.last and r.last.entered_by})
    for unit_row in everyone:
        if unit_row.last and unit_row.last.entered_by:
            unit_row.entered_by = roles.get(unit_row.last.entered_by)
    shown = sort_rows([c for c in children if _passes(c, query, today)], query)
    return UnitView(
        code,
        level,
        result.unit_name,
        await parent_of(db, code),
        today,
        unit,
        shown,
        query,
        hamlets,
        len(children),
        result.scheme,
        await division_types(db, None if level == "country" else communes),
    )


async def division_types(db: AsyncSession, communes: list[str] | None) -> frozenset[str]:
    """The division types of these communes (all of them: None), as the units data writes them."""
    stmt = select(Commune.division_type).distinct()
    if communes is not None:
        stmt = stmt.where(Commune.code.in_(communes))
    return frozenset((await db.scalars(stmt)).all())


def _passes(child: UnitRow, query: Query, today: dt.date) -> bool:
    if query.behind and not child.behind_by:
        return False
    if query.stale is not None:
        days = child.days_without_figures(today)
        return days is None or days >= query.stale
    return True


def sort_rows(rows: list[UnitRow], query: Query) -> list[UnitRow]:
    """By the column asked, ties by name; units without a value last either way, as a
    spreadsheet's sort leaves blanks at the bottom."""
    if query.sort == "name":
        return sorted(rows, key=lambda c: c.row.name, reverse=query.descending)
    valued = [c for c in rows if _value(c, query.sort) is not None]
    blank = sorted((c for c in rows if _value(c, query.sort) is None), key=lambda c: c.row.name)
    valued.sort(key=lambda c: c.row.name)  # stable: ties stay by name whichever way
    valued.sort(key=lambda c: _value(c, query.sort), reverse=query.descending)  # type: ignore[arg-type,return-value]
    return valued + blank


def _value(child: UnitRow, sort: str) -> object:
    row = child.row
    return {"rate": row.rate, "gap": row.gap, "pace": row.gain, "last": row.installed_on, "installed": row.installed}[
        sort
    ]
