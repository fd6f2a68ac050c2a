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
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import cast, overload

from sqlalchemy.ext.asyncio import AsyncSession

from storage import venues, volunteers
from storage.counters import METRICS
from storage.figures import (
    DENOMINATORS,
    TargetSpec,
    figures_as_of,
    figures_of_every_scheme,
    known_as_of,
    target_for,
    targets_in_force,
)
from storage.models import OfficialFigure
from storage.unit_list import CommuneUnit, UnitList, unit_list
from storage.unit_map import COUNTRY_CODE, SCHEMES, carry, check_scheme, unit_level, unit_map

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


@dataclass(slots=True)  # slots: a country's tally makes 3,321 of them
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


def commune_row(
    code: str,
    name: str,
    province_code: str,
    province_name: str,
    target: TargetSpec | None,
    activity: dict[str, int],
    district_code: str,
    district_name: str,
) -> TallyRow:
    """TallyRow(...) for a commune as a tally first builds it, in a third of the time: the
    dataclass's __init__ took 3 µs a row, 10 ms for the country's 3,321 (tests/storage/
    test_tally.py checks that both build the same row)."""
    row = _new_row(TallyRow)
    row.code, row.name, row.province_code, row.province_name = code, name, province_code, province_name
    row.target, row.activity, row.district_code, row.district_name = target, activity, district_code, district_name
    row.installed = row.installed_on = row.baseline = row.gain = row.summed = row.carried_from = None
    row.denominators = dict.fromkeys(DENOMINATORS)
    row.communes, row.communes_with_figures, row.level, row.own_figure = 1, 0, "commune", False
    return row


_new_row = object.__new__


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
    rows: Sequence[TallyRow]  # one per commune of the unit
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
    units = await unit_list(session)
    if scheme is not None and scheme != units.scheme:
        unit = unit_map(scheme).get(code)
        if unit is None:
            raise LookupError(code)
        return unit.name
    return _stored_name(units, code)


def _stored_name(units: UnitList, code: str) -> str:
    name = units.names.get(code)
    if name is None:
        raise LookupError(code)
    return name


async def tally(session: AsyncSession, unit_code: str, as_of: dt.date, scheme: str | None = None) -> Tally:
    """Every commune of `unit_code` ("VN", a province, a district or a commune) as of the end of
    `as_of`, on the database's map or, with `scheme`, viewed on the other one (history only)."""
    # The units from this process's copy (one small read says it is current); every figure and
    # count below is read now, so what was committed a moment ago is in the answer.
    units = await unit_list(session)
    scheme = units.scheme if scheme is None else check_scheme(scheme)
    if scheme != units.scheme:
        return await _tally_elsewhere(session, unit_code, as_of, scheme)
    level = unit_level(unit_code)
    name = "" if level == "country" else _stored_name(units, unit_code)  # named by the content
    communes = units.of(unit_code, level)

    counts = await _commune_counts(session, unit_code, level, as_of)
    targets = await targets_in_force(session, scheme)
    if level == "country":
        every = await figures_of_every_scheme(session, as_of)
        history, elsewhere = every.get(scheme, {}), {k: v for k, v in every.items() if k != scheme}
    else:
        wanted = {c.code for c in communes} | {c.province_code for c in communes} | {c.district_code for c in communes}
        history, elsewhere = await figures_as_of(session, sorted(wanted - {""}), as_of, scheme), None
    stocks: dict[str, dict[str, int]] = {}
    for provider in STOCK_PROVIDERS:
        for code, values in (await provider(session, as_of)).items():
            stocks.setdefault(code, {}).update(values)

    rows = CommuneRows(communes, counts, stocks, targets, history, as_of)
    tree = _roll_up_tree(rows, targets, history, as_of)
    if level == "commune":
        totals = replace(rows[0])
        children: list[TallyRow] = []
    else:
        totals = tree.get(unit_code) or roll_up([], unit_code, name, target_for(unit_code, None, targets))
        children = [r for r in tree.values() if _parent_of(r) == unit_code]
        if level in ("district",) or (level == "province" and not any(c.district_code for c in communes)):
            children = [
                r for r, c in zip(rows, communes, strict=True) if (c.district_code or c.province_code) == unit_code
            ]
    result = Tally(unit_code, name, as_of, rows, totals, scheme, children)
    result.carried = await _carried_into(session, result, scheme, elsewhere)
    return result


class CommuneRows(Sequence[TallyRow]):
    """A tally's rows, one per commune, each built the first time it is read.

    The country's 3,321 are rolled up from their counts without building a row each (most of a
    tally's time before); a view that reads them all builds them then, once. Communes with
    official figures are built at once: the roll-ups need their rates and paces."""

    def __init__(
        self,
        communes: Sequence[CommuneUnit],
        counts: dict[str, tuple[int, ...]],
        stocks: dict[str, dict[str, int]],
        targets: dict[str, TargetSpec],
        history: dict[str, list[OfficialFigure]],
        as_of: dt.date,
    ) -> None:
        self.communes = communes
        self.counts, self.stocks, self.targets, self.history, self.as_of = counts, stocks, targets, history, as_of
        self._built: list[TallyRow | None] = [None] * len(communes)
        self.with_figures = [i for i, c in enumerate(communes) if c.code in history]
        for i in self.with_figures:
            self._built[i] = self._build(i)

    def _build(self, i: int) -> TallyRow:
        code, cname, pcode, pname, dcode, dname = self.communes[i]
        activity = dict(zip(ACTIVITY, (self.counts.get(code) or _NO_COUNTS) + self._stock(code), strict=True))
        target = target_for(code, pcode, self.targets, dcode) if self.targets else None
        row = commune_row(code, cname, pcode, pname, target, activity, dcode, dname)
        entries = self.history.get(code)
        if entries:
            apply_figures(row, entries, self.as_of)
            row.communes_with_figures = int(row.installed is not None and bool(row.denominator))
        return row

    def _stock(self, code: str) -> tuple[int, ...]:
        stock = self.stocks.get(code)
        return tuple(stock.get(s, 0) for s in STOCK_COUNTS) if stock else _NO_STOCK

    def _build_all(self) -> None:
        """Every row not built yet, in one loop (a view listing every commune): 2 µs a row."""
        counts, targets, stocks, built = self.counts, self.targets, self.stocks, self._built
        for i, (code, cname, pcode, pname, dcode, dname) in enumerate(self.communes):
            if built[i] is None:  # communes with figures were built at once
                # Not strict: both tuples have their columns' lengths by construction, and the check
                # cost a tenth of the loop.
                values = (counts.get(code) or _NO_COUNTS) + (self._stock(code) if code in stocks else _NO_STOCK)
                activity = dict(zip(ACTIVITY, values, strict=False))
                target = target_for(code, pcode, targets, dcode) if targets else None
                built[i] = commune_row(code, cname, pcode, pname, target, activity, dcode, dname)

    def __len__(self) -> int:
        return len(self._built)

    @overload
    def __getitem__(self, index: int) -> TallyRow: ...

    @overload
    def __getitem__(self, index: slice) -> list[TallyRow]: ...

    def __getitem__(self, index: int | slice) -> TallyRow | list[TallyRow]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        row = self._built[index]  # IndexError as a list's
        if row is None:
            row = self._built[index] = self._build(index % len(self))
        return row

    def __iter__(self) -> Iterator[TallyRow]:
        self._build_all()
        return iter(cast(list[TallyRow], self._built))

    def __eq__(self, other: object) -> bool:
        # Compared as the list of rows it stands for (a tally compared with another, e.g. after a
        # restore): without this, two tallies of the same data were unequal by identity.
        if isinstance(other, CommuneRows | list):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, like the list it stands for

    def __repr__(self) -> str:
        return f"CommuneRows({len(self)} communes)"

    def summed(self, positions: Sequence[int]) -> TallyRow:
        """The communes at `positions` (none with official figures) as one row for roll_up: their
        counts summed, and how many they are; nothing else of theirs enters a sum."""
        codes = [self.communes[i].code for i in positions]
        vectors = [v for code in codes if (v := self.counts.get(code)) is not None]
        activity = dict(zip(METRICS, [sum(column) for column in zip(*vectors, strict=True)] or _NO_COUNTS, strict=True))
        stocks = [s for code in codes if (s := self.stocks.get(code))]
        for stock in STOCK_COUNTS:
            activity[stock] = sum(s.get(stock, 0) for s in stocks)
        return TallyRow("", "", "", "", None, activity=activity, communes=len(positions))


_NO_COUNTS = (0,) * len(METRICS)
_NO_STOCK = (0,) * len(STOCK_COUNTS)


async def _commune_counts(
    session: AsyncSession, unit_code: str, level: str, as_of: dt.date
) -> dict[str, tuple[int, ...]]:
    """Each commune's counters as of the end of `as_of`: its running total (commune_counts) less
    its days after `as_of` (through the day index: none for a tally as of today). Read as plain
    tuples through the driver, the country's 3,321 rows without SQLAlchemy's rows (a third of
    the read); two queries, since SQLite joined the two in twice the time of both."""
    dialect = session.get_bind().dialect.name
    driver = (await (await session.connection()).get_raw_connection()).driver_connection
    assert driver is not None  # a live connection of this transaction
    totals_sql, after_sql = _COUNTS_SQL[level, dialect]
    by_unit = () if level == "country" else (unit_code,)
    if dialect == "postgresql":
        totals, after = await driver.fetch(totals_sql, *by_unit), await driver.fetch(after_sql, as_of, *by_unit)
    else:
        # sqlite3 itself (storage.sqlite_driver): a statement of this transaction, no lock to wait for.
        totals = driver.execute(totals_sql, by_unit).fetchall()
        after = driver.execute(after_sql, (as_of.isoformat(), *by_unit)).fetchall()
    counts = {r[0]: tuple(r[1:]) for r in totals}
    for code, *later in after:
        if code in counts:  # a commune with counters has its running total
            counts[code] = tuple(n - m for n, m in zip(counts[code], later, strict=True))
    return counts


def _counts_sql(level: str, dialect: str) -> tuple[str, str]:
    """The two queries of _commune_counts for a unit of `level`: parameters (the unit's code) and
    (as_of, the unit's code)."""
    first, second = ("$1", "$2") if dialect == "postgresql" else ("?", "?")
    column = {"country": "", "province": "c.province_code", "district": "c.district_code", "commune": "t.commune_code"}
    unit = column[level]
    join = " JOIN communes c ON c.code = t.commune_code" if unit.startswith("c.") else ""
    totals = f"SELECT t.commune_code, {', '.join(f't.{m}' for m in METRICS)} FROM commune_counts t{join}"
    totals += f" WHERE {unit} = {first}" if unit else ""
    # SQLite grouped in the primary key's order (reading every day row) instead of taking the day
    # index: "+" makes the grouping an expression, so the day index is used.
    group = "+t.commune_code" if dialect == "sqlite" else "t.commune_code"
    after = (
        f"SELECT t.commune_code, {', '.join(f'SUM(t.{m})' for m in METRICS)} FROM commune_daily_counts t{join}"
        f" WHERE t.day > {first}" + (f" AND {unit} = {second}" if unit else "") + f" GROUP BY {group}"
    )
    return totals, after


_COUNTS_SQL = {
    (level, dialect): _counts_sql(level, dialect)
    for level in ("country", "province", "district", "commune")
    for dialect in ("postgresql", "sqlite")
}


def _parent_of(row: TallyRow) -> str:
    if row.level == "province":
        return COUNTRY_CODE
    if row.level == "district":
        return row.province_code
    return row.district_code or row.province_code


def _roll_up_tree(
    rows: CommuneRows, targets: dict[str, TargetSpec], history: dict[str, list[OfficialFigure]], as_of: dt.date
) -> dict[str, TallyRow]:
    """Districts from their communes, provinces from their districts (or communes), the country
    from its provinces; each above a commune shows its own figures where it has them. A commune
    without figures adds only its counts, summed from the counts as one row per unit."""
    communes = rows.communes
    figured = set(rows.with_figures)

    def members(positions: list[int]) -> list[TallyRow]:
        plain = [i for i in positions if i not in figured]
        return [*(rows[i] for i in positions if i in figured), rows.summed(plain)]

    units: dict[str, TallyRow] = {}
    by_district: dict[str, list[int]] = {}
    loose: dict[str, list[int]] = {}  # communes of a province directly (today's map)
    for i, c in enumerate(communes):
        if c.district_code:
            by_district.setdefault(c.district_code, []).append(i)
        else:
            loose.setdefault(c.province_code, []).append(i)
    by_province: dict[str, list[TallyRow]] = {}
    for dcode, positions in by_district.items():
        first = communes[positions[0]]
        target = target_for(dcode, first.province_code, targets)
        district = roll_up(
            members(positions), dcode, first.district_name, target, first.province_code, first.province_name
        )
        district.district_code, district.district_name = dcode, first.district_name
        apply_own(district, history.get(dcode, []), as_of)
        units[dcode] = district
        by_province.setdefault(first.province_code, []).append(district)
    for pcode, positions in loose.items():
        by_province.setdefault(pcode, []).extend(members(positions))
    names = {c.province_code: c.province_name for c in communes}
    provinces = []
    for pcode, parts in by_province.items():
        pname = names[pcode]
        province = roll_up(parts, pcode, pname, target_for(pcode, None, targets), pcode, pname)
        apply_own(province, history.get(pcode, []), as_of)
        units[pcode] = province
        provinces.append(province)
    country = roll_up(provinces, COUNTRY_CODE, "", target_for(COUNTRY_CODE, None, targets))
    apply_own(country, history.get(COUNTRY_CODE, []), as_of)
    units[COUNTRY_CODE] = country
    return units


async def _carried_into(
    session: AsyncSession, result: Tally, scheme: str, read: dict[str, dict[str, list[OfficialFigure]]] | None = None
) -> list[TallyRow]:
    """The other map's recorded figures that land within `result`'s unit, each as recorded
    (`read`: every other scheme's figures, when they were read already)."""
    out = []
    for other in SCHEMES:
        if other == scheme:
            continue
        history = read.get(other, {}) if read is not None else await figures_as_of(session, None, result.as_of, other)
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


async def province_rollups(session: AsyncSession, as_of: dt.date, national: Tally | None = None) -> list[TallyRow]:
    """One row per province (for the country view), each rolled up from its communes (or with its
    own figures); pass the country's tally as of the same date when it is at hand, so it is not
    computed twice."""
    if national is None or national.unit_code != COUNTRY_CODE or national.as_of != as_of:
        national = await tally(session, COUNTRY_CODE, as_of)
    return national.children
