"""Install progress per commune against targets, rolled up to province and country.

Rates are recomputed from summed numerators and denominators at every level, never averaged;
activity counts come from the per-day counters, never from the raw visits and check-ins.
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
from storage.models import Commune, CommuneDailyCount, Province
from storage.units import COUNTRY_CODE, unit_level

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


@dataclass
class TallyRow:
    """One unit's figures: a commune, or the sum of several."""

    code: str
    name: str
    province_code: str
    province_name: str
    target: TargetSpec | None
    # Official figures (None: nobody entered one yet).
    installed: int | None = None
    denominators: dict[str, int | None] = field(default_factory=lambda: {d: None for d in DENOMINATORS})
    installed_on: dt.date | None = None
    baseline: tuple[dt.date, int] | None = None  # the installed count GAIN_WINDOW days earlier
    gain: Fraction | None = None
    activity: dict[str, int] = field(default_factory=lambda: {m: 0 for m in ACTIVITY})
    communes: int = 1
    communes_with_figures: int = 0

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
) -> TallyRow:
    """The sum of `rows`: counts summed; the rate's numerator and denominator summed over the
    communes that have both (so one commune without figures neither inflates nor dilutes it)."""
    total = TallyRow(code, name, province_code, province_name, target, communes=sum(r.communes for r in rows))
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
    for metric in ACTIVITY:
        total.activity[metric] = sum(r.activity[metric] for r in rows)
    return total


def _sum_if_all(values: Iterable[int | None]) -> int | None:
    given = list(values)
    present = [v for v in given if v is not None]
    return sum(present) if len(present) == len(given) else None


@dataclass
class Tally:
    unit_code: str
    unit_name: str
    as_of: dt.date
    rows: list[TallyRow]  # one per commune of the unit
    totals: TallyRow

    def furthest_behind(self, n: int = 10) -> list[TallyRow]:
        """Communes short of their target, the furthest behind first; then those with no figures."""
        with_target = [r for r in self.rows if r.target is not None and (r.gap or r.rate is None)]

        def key(r: TallyRow):
            return (r.shortfall is None, -(r.shortfall or 0), r.name)

        return sorted(with_target, key=key)[:n]


# --- loading ---------------------------------------------------------------------------------


async def unit_name(session: AsyncSession, code: str) -> str | None:
    level = unit_level(code)
    if level == "country":
        return None  # named by the content ("Cả nước")
    row: Province | Commune | None
    row = await session.get(Province, code) if level == "province" else await session.get(Commune, code)
    if row is None:
        raise LookupError(code)
    return row.name


async def tally(session: AsyncSession, unit_code: str, as_of: dt.date) -> Tally:
    """Every commune of `unit_code` ("VN", a province or a commune) as of the end of `as_of`."""
    level = unit_level(unit_code)
    name = await unit_name(session, unit_code) or ""
    stmt = select(Commune.code, Commune.name, Commune.province_code, Province.name).join(
        Province, Province.code == Commune.province_code
    )
    if level == "province":
        stmt = stmt.where(Commune.province_code == unit_code)
    elif level == "commune":
        stmt = stmt.where(Commune.code == unit_code)
    communes = (await session.execute(stmt.order_by(Commune.province_code, Commune.name))).all()
    codes = None if level == "country" else [c[0] for c in communes]

    targets = await targets_in_force(session)
    history = await figures_as_of(session, codes, as_of)
    counts = await _counter_sums(session, codes, as_of)
    stocks: dict[str, dict[str, int]] = {}
    for provider in STOCK_PROVIDERS:
        for code, values in (await provider(session, as_of)).items():
            stocks.setdefault(code, {}).update(values)

    rows = []
    for code, cname, pcode, pname in communes:
        row = TallyRow(code, cname, pcode, pname, target_for(code, pcode, targets))
        entries = history.get(code, [])
        if entries:
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
            now_point = _dated(row.installed_on, row.installed)
            row.baseline = before_point
            row.gain = daily_gain(now_point, before_point)
            row.communes_with_figures = int(row.installed is not None and bool(row.denominator))
        row.activity.update(counts.get(code, {}))
        row.activity.update(stocks.get(code, {}))
        rows.append(row)

    if level == "commune":
        totals = replace(rows[0])
    else:
        # A province's own target, else the country's; the country's for the country.
        target = target_for(unit_code, None, targets)
        in_province = (unit_code, name) if level == "province" else ("", "")
        totals = roll_up(rows, unit_code, name, target, *in_province)
    return Tally(unit_code, name, as_of, rows, totals)


async def _counter_sums(
    session: AsyncSession, codes: Sequence[str] | None, as_of: dt.date
) -> dict[str, dict[str, int]]:
    columns = [func.coalesce(func.sum(getattr(CommuneDailyCount, m)), 0) for m in METRICS]
    stmt = select(CommuneDailyCount.commune_code, *columns).where(CommuneDailyCount.day <= as_of)
    if codes is not None:
        stmt = stmt.where(CommuneDailyCount.commune_code.in_(list(codes)))
    stmt = stmt.group_by(CommuneDailyCount.commune_code)
    return {r[0]: {m: int(v) for m, v in zip(METRICS, r[1:], strict=True)} for r in (await session.execute(stmt)).all()}


async def province_rollups(session: AsyncSession, as_of: dt.date, national: Tally | None = None) -> list[TallyRow]:
    """One row per province (for the country view), each rolled up from its communes; pass the
    country's tally as of the same date when it is at hand, so it is not computed twice."""
    if national is None or national.unit_code != COUNTRY_CODE or national.as_of != as_of:
        national = await tally(session, COUNTRY_CODE, as_of)
    targets = await targets_in_force(session)
    by_province: dict[str, list[TallyRow]] = {}
    for row in national.rows:
        by_province.setdefault(row.province_code, []).append(row)
    return [
        roll_up(rows, code, rows[0].province_name, target_for(code, None, targets), code, rows[0].province_name)
        for code, rows in by_province.items()
    ]
