"""Install progress per commune against targets, rolled up commune → district (on the pre-2025
map) → province → country.

Rates are recomputed from summed numerators and denominators at every level, never averaged;
activity counts come from the per-day counters, never from the raw visits and check-ins. A unit
with official figures of its own for the date (a city's total, as the letters report it) shows
them, and the sum of its children beside them where the two disagree. Figures recorded on the
other map are history: shown as recorded, on the smallest unit of this map wholly containing
theirs (storage/unit_map.py), marked, never split and never summed with this map's.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import venues, volunteers
from storage.counters import METRICS
from storage.figures import DENOMINATORS, TargetSpec, figures_as_of, known_as_of, target_for, targets_in_force
from storage.models import Commune, CommuneCount, CommuneDailyCount, District, OfficialFigure, Province
from storage.unit_map import COUNTRY_CODE, SCHEMES, carry, check_scheme, unit_level, unit_map
from storage.units import database_scheme

# Counts that are not per-day counters but stocks (active volunteers, venues), from the small
# tables that hold them: each provider returns {commune_code: {name: count}}.
STOCK_COUNTS = ("active_volunteers", "venues")
ACTIVITY = (*METRICS, *STOCK_COUNTS)
StockProvider = Callable[[AsyncSession, dt.date], Awaitable[dict[str, dict[str, int]]]]
STOCK_PROVIDERS: list[StockProvider] = [volunteers.active_per_commune, venues.venues_per_commune]
GAIN_WINDOW = 7  # days


# --- arithmetic (pure) ---------------------------------------------------------------------


def install_rate(installed: int | None, denominator: int | None) -> Fraction | None:
    if installed is None or not denominator:
        return None
    return Fraction(installed, denominator)


def people_needed(rate: Fraction, denominator: int) -> int:
    """People who must have the app for `rate` of `denominator`: rounded up (60% of 174.229 → 104.538)."""
    return math.ceil(rate * denominator)


def people_gap(installed: int, rate: Fraction, denominator: int) -> int:
    """How many more installs reach the target; 0 once it is reached."""
    return max(0, people_needed(rate, denominator) - installed)


def daily_gain(now: tuple[dt.date, int] | None, before: tuple[dt.date, int] | None) -> Fraction | None:
    """Average installs per day between two dated counts."""
    if now is None or before is None or now[0] <= before[0]:
        return None
    return Fraction(now[1] - before[1], (now[0] - before[0]).days)


def _dated(day: dt.date | None, count: int | None) -> tuple[dt.date, int] | None:
    """A count with its date, for daily_gain; None unless both are known."""
    return None if day is None or count is None else (day, count)


def projected_date(as_of: dt.date, gap: int, gain: Fraction | None) -> dt.date | None:
    """When the target is reached at the current pace; None when the pace is not positive."""
    if gap <= 0:
        return as_of
    if gain is None or gain <= 0:
        return None
    return as_of + dt.timedelta(days=math.ceil(gap / gain))


# --- rows ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Summed:
    """The sum of a unit's children, kept beside the unit's own figure when the two disagree."""

    installed: int | None
    denominator: int | None
    communes_with_figures: int
    communes: int

    @property
    def rate(self) -> Fraction | None:
        return install_rate(self.installed, self.denominator)


@dataclass(frozen=True)
class CarriedFrom:
    """The unit of the other map a history row's figures were recorded on."""

    scheme: str
    code: str
    name: str
    level: str


@dataclass
class TallyRow:
    """One unit's figures: a commune, or the sum of several (or the unit's own figure)."""

    code: str
    name: str
    province_code: str
    province_name: str
    target: TargetSpec | None
    # Official figures (None: nobody entered one yet).
    installed: int | None = None
    denominators: dict[str, int | None] = field(default_factory=lambda: dict.fromkeys(DENOMINATORS))
    installed_on: dt.date | None = None
    baseline: tuple[dt.date, int] | None = None  # the installed count GAIN_WINDOW days earlier
    gain: Fraction | None = None
    activity: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ACTIVITY, 0))
    communes: int = 1
    communes_with_figures: int = 0
    level: str = "commune"
    district_code: str = ""  # on the pre-2025 map
    district_name: str = ""
    own_figure: bool = False  # the figures are the unit's own entry, not its children's sum
    summed: Summed | None = None  # with own_figure: the children's sum, where it disagrees
    carried_from: CarriedFrom | None = None  # history: recorded on the other map's unit

    @property
    def denominator_kind(self) -> str:
        return self.target.denominator if self.target else "subscribers"

    @property
    def denominator(self) -> int | None:
        return self.denominators.get(self.denominator_kind)

    @property
    def rate(self) -> Fraction | None:
        return install_rate(self.installed, self.denominator)

    @property
    def target_rate(self) -> Fraction | None:
        return self.target.rate if self.target else None

    @property
    def deadline(self) -> dt.date | None:
        return self.target.deadline if self.target else None

    @property
    def gap(self) -> int | None:
        if self.target is None or self.installed is None or not self.denominator:
            return None
        return people_gap(self.installed, self.target.rate, self.denominator)

    @property
    def shortfall(self) -> Fraction | None:
        """Target rate minus rate: how far behind, for ranking; None without a target or figures."""
        if self.target is None or self.rate is None:
            return None
        return self.target.rate - self.rate

    def projected(self, as_of: dt.date) -> dt.date | None:
        gap = self.gap
        return None if gap is None else projected_date(as_of, gap, self.gain)

    def late(self, as_of: dt.date) -> bool:
        """The pace misses the deadline (or there is no progress at all to project from)."""
        if self.gap in (None, 0) or self.deadline is None:
            return False
        projected = self.projected(as_of)
        return projected is None or projected > self.deadline

    @property
    def checkins_installed_share(self) -> Fraction | None:
        return install_rate(self.activity["checkins_already_installed"], self.activity["checkins"])


def roll_up(
    rows: Sequence[TallyRow],
    code: str,
    name: str,
    target: TargetSpec | None,
    province_code: str = "",
    province_name: str = "",
    level: str = "",
) -> TallyRow:
    """The sum of `rows`: counts summed; the rate's numerator and denominator summed over the
    communes that have both (so one commune without figures neither inflates nor dilutes it)."""
    total = TallyRow(code, name, province_code, province_name, target, communes=sum(r.communes for r in rows))
    total.level = level or unit_level(code)
    kind = total.denominator_kind
    complete = [r for r in rows if r.installed is not None and r.denominators.get(kind)]
    total.communes_with_figures = sum(r.communes_with_figures for r in complete)
    if complete:
        total.installed = sum(r.installed or 0 for r in complete)  # none is None in `complete`
        total.denominators = {d: _sum_if_all([r.denominators.get(d) for r in complete]) for d in DENOMINATORS}
        # The pace of the communes that have one; a commune with a single count adds none, which
        # errs on the late side rather than leaving the province without a projection.
        gains = [r.gain for r in complete if r.gain is not None]
        total.gain = sum(gains, Fraction(0)) if gains else None
        dates = [r.installed_on for r in complete if r.installed_on]
        total.installed_on = max(dates) if dates else None
    activities = [r.activity for r in rows]
    for metric in ACTIVITY:
        total.activity[metric] = sum([a[metric] for a in activities])
    return total


def _sum_if_all(values: Iterable[int | None]) -> int | None:
    given = list(values)
    present = [v for v in given if v is not None]
    return sum(present) if len(present) == len(given) else None


def apply_figures(row: TallyRow, entries: Sequence[OfficialFigure], as_of: dt.date) -> None:
    """The row's figures from its own entries (a commune's, or a district's or province's total)."""
    known = known_as_of(entries, as_of)
    row.installed = known.values["installed"]
    row.denominators = {d: known.values[d] for d in DENOMINATORS}
    row.installed_on = known.installed_on
    before = known_as_of(entries, as_of - dt.timedelta(days=GAIN_WINDOW))
    before_point = _dated(before.installed_on, before.values["installed"])
    if before_point is None:
        # No count a week back: measure from the earliest count there is.
        first = next((e for e in entries if e.installed is not None), None)
        before_point = _dated(first.as_of, first.installed) if first else None
    row.baseline = before_point
    row.gain = daily_gain(_dated(row.installed_on, row.installed), before_point)


def apply_own(row: TallyRow, entries: Sequence[OfficialFigure], as_of: dt.date) -> None:
    """A unit above a commune with figures of its own: they are shown, for the whole unit; its
    children's sum is kept beside them where it disagrees."""
    if not entries or known_as_of(entries, as_of).values["installed"] is None:
        return
    summed = Summed(row.installed, row.denominator, row.communes_with_figures, row.communes)
    apply_figures(row, entries, as_of)
    row.own_figure = True
    row.communes_with_figures = row.communes
    if summed.installed is not None and (summed.installed, summed.denominator) != (row.installed, row.denominator):
        row.summed = summed


@dataclass
class Tally:
    unit_code: str
    unit_name: str
    as_of: dt.date
    rows: list[TallyRow]  # one per commune of the unit
    totals: TallyRow
    scheme: str = "2025"
    # The unit's direct children (a province's districts on the pre-2025 map, its communes on
    # today's; the country's provinces), each rolled up from its communes or with its own figures.
    children: list[TallyRow] = field(default_factory=list)
    # History: figures recorded on the other map's units that lie within this unit, each on the
    # smallest unit of this map wholly containing it (row.code), as recorded.
    carried: list[TallyRow] = field(default_factory=list)

    def furthest_behind(self, n: int = 10) -> list[TallyRow]:
        """Communes short of their target, the furthest behind first; then those with no figures."""
        with_target = [r for r in self.rows if r.target is not None and (r.gap or r.rate is None)]

        def key(r: TallyRow):
            return (r.shortfall is None, -(r.shortfall or 0), r.name)

        return sorted(with_target, key=key)[:n]


# --- loading ---------------------------------------------------------------------------------


async def unit_name(session: AsyncSession, code: str, scheme: str | None = None) -> str | None:
    level = unit_level(code)
    if level == "country":
        return None  # named by the content ("Cả nước")
    if scheme is not None and scheme != await database_scheme(session):
        unit = unit_map(scheme).get(code)
        if unit is None:
            raise LookupError(code)
        return unit.name
    row: Province | District | Commune | None
    if level == "province":
        row = await session.get(Province, code)
    elif level == "district":
        row = await session.get(District, code)
    else:
        row = await session.get(Commune, code)
    if row is None:
        raise LookupError(code)
    return row.name


async def tally(session: AsyncSession, unit_code: str, as_of: dt.date, scheme: str | None = None) -> Tally:
    """Every commune of `unit_code` ("VN", a province, a district or a commune) as of the end of
    `as_of`, on the database's map or, with `scheme`, viewed on the other one (history only)."""
    stored = await database_scheme(session)
    scheme = stored if scheme is None else check_scheme(scheme)
    if scheme != stored:
        return await _tally_elsewhere(session, unit_code, as_of, scheme)
    level = unit_level(unit_code)
    name = await unit_name(session, unit_code) or ""
    # Each commune with its running totals, in the one read of the unit's communes.
    stmt = (
        select(
            Commune.code,
            Commune.name,
            Commune.province_code,
            Province.name,
            Commune.district_code,
            District.name,
            *(getattr(CommuneCount, m) for m in METRICS),
        )
        .join(Province, Province.code == Commune.province_code)
        .outerjoin(District, District.code == Commune.district_code)
        .outerjoin(CommuneCount, CommuneCount.commune_code == Commune.code)
    )
    if level == "province":
        stmt = stmt.where(Commune.province_code == unit_code)
    elif level == "district":
        stmt = stmt.where(Commune.district_code == unit_code)
    elif level == "commune":
        stmt = stmt.where(Commune.code == unit_code)
    communes = (await session.execute(stmt.order_by(Commune.province_code, Commune.district_code, Commune.name))).all()
    if level == "country":
        codes = None
    else:
        codes = sorted({c[0] for c in communes} | {c[2] for c in communes} | {c[4] for c in communes if c[4]})

    targets = await targets_in_force(session, scheme)
    history = await figures_as_of(session, codes, as_of, scheme)
    later = await _counts_after(session, None if codes is None else [c[0] for c in communes], as_of)
    stocks: dict[str, dict[str, int]] = {}
    for provider in STOCK_PROVIDERS:
        for code, values in (await provider(session, as_of)).items():
            stocks.setdefault(code, {}).update(values)

    rows = []
    for commune in communes:
        code, cname, pcode, pname, dcode, dname = commune[:6]
        counted: list[int] = list(commune[6:])
        row = TallyRow(code, cname, pcode, pname, target_for(code, pcode, targets, *([dcode] if dcode else [])))
        row.district_code, row.district_name = dcode or "", dname or ""
        entries = history.get(code, [])
        if entries:
            apply_figures(row, entries, as_of)
            row.communes_with_figures = int(row.installed is not None and bool(row.denominator))
        if counted[0] is not None:  # a commune with counters: its totals less the days after as_of
            after = later.get(code)
            if after:
                counted = [total - after[metric] for metric, total in zip(METRICS, counted, strict=True)]
            row.activity.update(zip(METRICS, counted, strict=True))
        row.activity.update(stocks.get(code, {}))
        rows.append(row)

    units = _roll_up_tree(rows, targets, history, as_of)
    if level == "commune":
        totals = replace(rows[0])
        children: list[TallyRow] = []
    else:
        totals = units.get(unit_code) or roll_up([], unit_code, name, target_for(unit_code, None, targets))
        children = [r for r in units.values() if _parent_of(r) == unit_code]
        if level in ("district",) or (level == "province" and not any(r.district_code for r in rows)):
            children = [r for r in rows if (r.district_code or r.province_code) == unit_code]
    result = Tally(unit_code, name, as_of, rows, totals, scheme, children)
    result.carried = await _carried_into(session, result, scheme)
    return result


def _parent_of(row: TallyRow) -> str:
    if row.level == "province":
        return COUNTRY_CODE
    if row.level == "district":
        return row.province_code
    return row.district_code or row.province_code


def _roll_up_tree(
    rows: list[TallyRow], targets: dict[str, TargetSpec], history: dict[str, list[OfficialFigure]], as_of: dt.date
) -> dict[str, TallyRow]:
    """Districts from their communes, provinces from their districts (or communes), the country
    from its provinces; each above a commune shows its own figures where it has them."""
    units: dict[str, TallyRow] = {}
    by_district: dict[str, list[TallyRow]] = {}
    for row in rows:
        if row.district_code:
            by_district.setdefault(row.district_code, []).append(row)
    by_province: dict[str, list[TallyRow]] = {}
    for dcode, members in by_district.items():
        first = members[0]
        target = target_for(dcode, first.province_code, targets)
        district = roll_up(members, dcode, first.district_name, target, first.province_code, first.province_name)
        district.district_code, district.district_name = dcode, first.district_name
        apply_own(district, history.get(dcode, []), as_of)
        units[dcode] = district
        by_province.setdefault(first.province_code, []).append(district)
    for row in rows:
        if not row.district_code:
            by_province.setdefault(row.province_code, []).append(row)
    provinces = []
    for pcode, members in by_province.items():
        pname = members[0].province_name
        province = roll_up(members, pcode, pname, target_for(pcode, None, targets), pcode, pname)
        apply_own(province, history.get(pcode, []), as_of)
        units[pcode] = province
        provinces.append(province)
    country = roll_up(provinces, COUNTRY_CODE, "", target_for(COUNTRY_CODE, None, targets))
    apply_own(country, history.get(COUNTRY_CODE, []), as_of)
    units[COUNTRY_CODE] = country
    return units


async def _carried_into(session: AsyncSession, result: Tally, scheme: str) -> list[TallyRow]:
    """The other map's recorded figures that land within `result`'s unit, each as recorded."""
    out = []
    for other in SCHEMES:
        if other == scheme:
            continue
        history = await figures_as_of(session, None, result.as_of, other)
        if not history:
            continue  # the usual case: no map is read
        here, former = unit_map(scheme), unit_map(other)
        targets = await targets_in_force(session, other)
        for code, entries in sorted(history.items()):
            landing = carry(code, other, scheme)
            unit = former.get(code)
            if landing is None or unit is None or landing not in here or not here.contains(result.unit_code, landing):
                continue
            province = former.above(code, "province") or ""
            district = former.above(code, "district") or ""
            target = target_for(code, province, targets, *([district] if district else []))
            row = TallyRow(landing, here.units[landing].name, here.above(landing, "province") or "", "", target)
            row.province_name = here.units[row.province_code].name if row.province_code else ""
            row.level = here.units[landing].level
            row.communes = 0
            apply_figures(row, entries, result.as_of)
            if row.installed is None:
                continue
            row.own_figure = True
            row.carried_from = CarriedFrom(other, code, unit.name, unit.level)
            out.append(row)
    return out


async def _tally_elsewhere(session: AsyncSession, unit_code: str, as_of: dt.date, scheme: str) -> Tally:
    """A unit of the map the database does not run on: only the history recorded on it, or
    carried onto it; no commune of this database's lies there in a way we can tell."""
    unit = unit_map(scheme).get(unit_code)
    if unit is None:
        raise LookupError(unit_code)
    targets = await targets_in_force(session, scheme)
    province = unit_map(scheme).above(unit_code, "province") or ""
    totals = roll_up([], unit_code, unit.name, target_for(unit_code, province, targets), province, "")
    totals.communes = 0
    apply_own(totals, (await figures_as_of(session, [unit_code], as_of, scheme)).get(unit_code, []), as_of)
    result = Tally(unit_code, unit.name, as_of, [], totals, scheme)
    result.carried = await _carried_into(session, result, scheme)
    return result


async def _counts_after(
    session: AsyncSession, codes: Sequence[str] | None, as_of: dt.date
) -> dict[str, dict[str, int]]:
    """Each commune's counters on the days after `as_of` (none for a tally as of today): what to
    take off its running total, so a tally does not sum every day row."""
    columns = [func.sum(getattr(CommuneDailyCount, m)) for m in METRICS]
    stmt = select(CommuneDailyCount.commune_code, *columns).where(CommuneDailyCount.day > as_of)
    if codes is not None:
        stmt = stmt.where(CommuneDailyCount.commune_code.in_(list(codes)))
    stmt = stmt.group_by(CommuneDailyCount.commune_code)
    return {r[0]: {m: int(v) for m, v in zip(METRICS, r[1:], strict=True)} for r in (await session.execute(stmt)).all()}


async def province_rollups(session: AsyncSession, as_of: dt.date, national: Tally | None = None) -> list[TallyRow]:
    """One row per province (for the country view), each rolled up from its communes (or with its
    own figures); pass the country's tally as of the same date when it is at hand, so it is not
    computed twice."""
    if national is None or national.unit_code != COUNTRY_CODE or national.as_of != as_of:
        national = await tally(session, COUNTRY_CODE, as_of)
    return national.children
