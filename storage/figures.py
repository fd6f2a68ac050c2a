"""Official figures (installed count, denominators) and targets, entered in chat or imported."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.audit import record
from storage.models import OfficialFigure, Target, utcnow
from storage.unit_map import COUNTRY_CODE, check_scheme, pad_unit_code, unit_level
from storage.units import database_scheme, known_unit
from texts.user_input import BIGINT_MAX, number

FIGURE_FIELDS = ("installed", "subscribers", "population", "households")
DENOMINATORS = ("subscribers", "population", "households")
IMPORT_COLUMNS = ("unit_code", "date", "installed", "subscribers", "population", "households")
# The figures CSV's first header, from when figures were a commune's only: still read.
OLD_CODE_COLUMN = "commune_code"
MAX_COUNT = 200_000_000  # more people than the country has: a typo, not a figure


@dataclass(frozen=True)
class TargetSpec:
    unit_code: str
    rate: Fraction
    deadline: dt.date
    denominator: str


@dataclass
class ImportReport:
    imported: int = 0
    errors: list[str] = field(default_factory=list)


async def record_figure(
    session: AsyncSession,
    unit_code: str,
    as_of: dt.date,
    *,
    entered_by: int | None,
    source: str,
    audit: bool = True,
    scheme: str | None = None,
    **values: int | None,
) -> OfficialFigure:
    """Add one dated, attributed entry for a unit of any level (a commune, a district, a province)
    of `scheme` (the database's by default), and its audit entry; earlier entries stay as history."""
    unknown = values.keys() - set(FIGURE_FIELDS)
    if unknown:
        raise ValueError(f"unknown figures: {sorted(unknown)}")
    for name, value in values.items():
        if value is not None and not 0 <= value <= MAX_COUNT:
            raise ValueError(f"{name} out of range: {value}")
    if all(values.get(f) is None for f in FIGURE_FIELDS):
        raise ValueError("no figure given")
    scheme = await database_scheme(session) if scheme is None else check_scheme(scheme)
    row = OfficialFigure(
        scheme=scheme,
        unit_code=unit_code,
        as_of=as_of,
        entered_by=entered_by,
        source=source[:200],
        entered_at=utcnow(),
        **{f: values.get(f) for f in FIGURE_FIELDS},
    )
    session.add(row)
    await session.flush()
    if audit:
        await record(
            session,
            "figures",
            actor=entered_by,
            source=source,
            unit_code=unit_code,
            scheme=scheme,
            as_of=as_of,
            **{f: values.get(f) for f in FIGURE_FIELDS},
        )
    return row


# Thousands grouped with a dot (Vietnamese), a comma, a space or a no-break space (a spreadsheet's).
_GROUPED = re.compile(r"\d{1,3}(?:([., \u00a0\u202f])\d{3})(?:\1\d{3})*")
_SEPARATOR = re.compile(r"[., \u00a0\u202f]")


def parse_count(value: object) -> int | None:
    """ "82.930", "82,930", "82 930" or "82930" → 82930; blank → None; anything else raises.

    Separators must group thousands ("1.5" is refused, not read as 15), as people write them.
    """
    if isinstance(value, bool):
        raise ValueError(f"not a whole number: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):  # a spreadsheet cell
        if not value.is_integer():
            raise ValueError(f"not a whole number: {value!r}")
        return int(value)
    text = str(value).strip()
    if not text:
        return None
    # The digits are read by the bot's one number reader: ASCII or full-width digits only, so
    # "²" or "①" (which NFKC would turn into 2 and 1) are not counts.
    digits = _SEPARATOR.sub("", text) if _GROUPED.fullmatch(text) else text
    count = number(digits, BIGINT_MAX)
    if count is None:
        raise ValueError(f"not a whole number: {text!r}")
    return count


_RATE = re.compile(r"(\d{1,3})(?:[.,](\d{1,4}))?([%％]?)")


def parse_rate(value: str) -> Fraction:
    """A target rate as people write it: "60%", "65,5%", "0,65", "0.6", "1" or "65" → a fraction
    above 0 and at most 1. Without "%", a number up to 1 is a fraction and a whole number from 2
    to 100 a percentage; anything else ("1.5", "150") is refused rather than guessed."""
    text = re.sub(r"\s+", "", str(value))
    match = _RATE.fullmatch(text)
    # Its digits are read by the one number reader, as counts are: "²" or "٣" are not digits here.
    digits = number(match[1] + (match[2] or ""), 10**7) if match else None
    if match is None or digits is None:
        raise ValueError(f"not a rate: {value!r} (write 60% or 0.6)")
    _, decimals, percent = match.groups()
    amount = Fraction(digits, 10 ** len(decimals or ""))
    if percent:
        rate = amount / 100
    elif amount <= 1:
        rate = amount
    elif decimals is None and amount <= 100:
        rate = amount / 100
    else:
        raise ValueError(f"ambiguous rate: {value!r} (write 60% or 0.6)")
    if not 0 < rate <= 1:
        raise ValueError(f"a rate is above 0 and at most 100%: {value!r}")
    return rate


def parse_date(value: object) -> dt.date:
    """A date cell or text: 2021-08-03, 03/08/2021, 3/8/2021."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"not a date: {text!r} (use YYYY-MM-DD or DD/MM/YYYY)")


async def import_rows(
    session: AsyncSession,
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    source: str,
    scheme: str | None = None,
) -> ImportReport:
    """Import figure rows (from CSV or XLSX) for units of `scheme` (the database's by default): one
    entry per row, for a commune, a district or a province; bad rows are reported and skipped."""
    report = ImportReport()
    scheme = await database_scheme(session) if scheme is None else check_scheme(scheme)
    header = [unicodedata.normalize("NFC", str(h or "")).strip().lower() for h in header]
    communes_only = "unit_code" not in header and OLD_CODE_COLUMN in header
    if communes_only:
        header[header.index(OLD_CODE_COLUMN)] = "unit_code"
    missing = [c for c in ("unit_code", "date") if c not in header]
    if missing:
        report.errors.append(f"missing column(s): {', '.join(missing)}")
        return report
    for line, raw in enumerate(rows, start=2):
        cells = {h: ("" if v is None else v) for h, v in zip(header, raw, strict=False)}  # a row may be short
        if not any(str(v).strip() for v in cells.values()):
            continue  # an empty spreadsheet row
        code = str(cells.get("unit_code", "")).strip()
        if code.endswith(".0"):
            code = code[:-2]
        if communes_only and code.isdigit():
            code = code.zfill(5)  # the old column held communes only, however short the code
        else:
            try:
                code = pad_unit_code(code, scheme)
            except ValueError:
                pass  # reported as unknown below, as typed
        if not await known_unit(session, code, scheme):
            report.errors.append(f"line {line}: unknown unit code {code!r} ({scheme} units)")
            continue
        try:
            as_of = parse_date(cells.get("date", ""))
            values = {f: parse_count(cells.get(f, "")) for f in FIGURE_FIELDS if f in cells}
            await record_figure(
                session, code, as_of, entered_by=None, source=source, audit=False, scheme=scheme, **values
            )
        except ValueError as exc:
            report.errors.append(f"line {line}: {exc}")
            continue
        report.imported += 1
    if report.imported:  # one entry for the whole file, not one per row
        await record(
            session,
            "figures_import",
            actor=None,
            source=source,
            rows=report.imported,
            skipped=len(report.errors),
            scheme=scheme,
        )
    return report


async def set_target(
    session: AsyncSession,
    unit_code: str,
    rate: Fraction,
    deadline: dt.date,
    denominator: str = "subscribers",
    *,
    set_by: int | None,
    source: str,
    scheme: str | None = None,
) -> Target:
    unit_level(unit_code)  # raises on a malformed code
    if denominator not in DENOMINATORS:
        raise ValueError(f"denominator must be one of {', '.join(DENOMINATORS)}")
    if not 0 < rate <= 1:
        raise ValueError("rate must be above 0 and at most 1")
    scheme = await database_scheme(session) if scheme is None else check_scheme(scheme)
    if not await known_unit(session, unit_code, scheme):
        raise ValueError(f"unknown unit {unit_code}")
    row = Target(
        scheme=scheme,
        unit_code=unit_code,
        rate_ppm=int(rate * 1_000_000),
        deadline=deadline,
        denominator=denominator,
        set_by=set_by,
        source=source[:200],
        set_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    await record(
        session,
        "target",
        actor=set_by,
        source=source,
        unit_code=unit_code,
        scheme=scheme,
        rate=str(rate),
        deadline=deadline,
        denominator=denominator,
    )
    return row


async def targets_in_force(session: AsyncSession, scheme: str | None = None) -> dict[str, TargetSpec]:
    """The latest target of every unit of `scheme` (the database's by default) that has one, and
    the country's whatever map it was set on (a handful of rows)."""
    scheme = await database_scheme(session) if scheme is None else scheme
    stmt = select(Target).where((Target.scheme == scheme) | (Target.unit_code == COUNTRY_CODE))
    rows = (await session.scalars(stmt.order_by(Target.set_at, Target.id))).all()
    return {
        r.unit_code: TargetSpec(r.unit_code, Fraction(r.rate_ppm, 1_000_000), r.deadline, r.denominator) for r in rows
    }


def target_for(code: str, province_code: str | None, targets: dict[str, TargetSpec], *above: str) -> TargetSpec | None:
    """A unit's own target, else its district's (`above`, on the pre-2025 map), else its
    province's, else the country's."""
    for unit in (code, *above, province_code, COUNTRY_CODE):
        if unit and unit in targets:
            return targets[unit]
    return None


@dataclass(frozen=True)
class Known:
    """The last known value of each figure as of a date (blanks carry the earlier value)."""

    values: dict[str, int | None]
    installed_on: dt.date | None  # the date of the installed count in force


async def figures_as_of(
    session: AsyncSession, unit_codes: Sequence[str] | None, as_of: dt.date, scheme: str | None = None
) -> dict[str, list[OfficialFigure]]:
    """Every entry up to `as_of` for these units of `scheme` (the database's by default; all its
    units when None), oldest first."""
    scheme = await database_scheme(session) if scheme is None else scheme
    stmt = select(OfficialFigure).where(OfficialFigure.as_of <= as_of, OfficialFigure.scheme == scheme)
    if unit_codes is not None:
        stmt = stmt.where(OfficialFigure.unit_code.in_(list(unit_codes)))
    stmt = stmt.order_by(OfficialFigure.unit_code, OfficialFigure.as_of, OfficialFigure.entered_at, OfficialFigure.id)
    history: dict[str, list[OfficialFigure]] = {}
    for row in (await session.scalars(stmt)).all():
        history.setdefault(row.unit_code, []).append(row)
    return history


async def figures_of_every_scheme(session: AsyncSession, as_of: dt.date) -> dict[str, dict[str, list[OfficialFigure]]]:
    """figures_as_of for every unit of every scheme, by scheme, in one read (the country's tally
    shows its own map's and carries the other's)."""
    stmt = select(OfficialFigure).where(OfficialFigure.as_of <= as_of)
    stmt = stmt.order_by(OfficialFigure.unit_code, OfficialFigure.as_of, OfficialFigure.entered_at, OfficialFigure.id)
    out: dict[str, dict[str, list[OfficialFigure]]] = {}
    for row in (await session.scalars(stmt)).all():
        out.setdefault(row.scheme, {}).setdefault(row.unit_code, []).append(row)
    return out


def known_as_of(history: Sequence[OfficialFigure], as_of: dt.date) -> Known:
    values: dict[str, int | None] = {f: None for f in FIGURE_FIELDS}
    installed_on = None
    for row in history:
        if row.as_of > as_of:
            break
        for f in FIGURE_FIELDS:
            value = getattr(row, f)
            if value is not None:
                values[f] = value
                if f == "installed":
                    installed_on = row.as_of
    return Known(values, installed_on)


async def last_known(session: AsyncSession, unit_code: str, as_of: dt.date) -> Known:
    """A unit's own figures in force on `as_of` (what an official keeps or changes)."""
    history = (await figures_as_of(session, [unit_code], as_of)).get(unit_code, [])
    return known_as_of(history, as_of)
