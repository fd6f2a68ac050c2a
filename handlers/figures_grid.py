"""Official figures and targets entered from a grid or a form (the web dashboard) with the checks
of chat's /capnhat and /chitieu called directly: one date for the grid, each row a unit's figures
(a commune, or before 2025 a district), checked as chat checks each answer. A row chat would ask
"are you sure?" about is held until its own box is ticked; a row with a problem is refused alone,
the others are kept."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction

from handlers.figures_entry import OPTIONAL, date_problem, doubt, read_count, read_day
from handlers.targets import deadline_problem
from storage.figures import DENOMINATORS, FIGURE_FIELDS, parse_rate
from texts import Text, t


@dataclass
class GridRow:
    """One commune's typed cells, and what the checks make of them."""

    code: str
    cells: dict[str, str]
    values: dict[str, int | None] = field(default_factory=dict)
    problems: list[Text] = field(default_factory=list)
    doubts: list[Text] = field(default_factory=list)

    @property
    def blank(self) -> bool:
        return not any(v.strip() for v in self.cells.values())

    @property
    def ready(self) -> bool:
        """To be stored: typed, read, and nothing left to ask."""
        return not self.blank and not self.problems and not self.doubts


def read_grid_date(text: str, today: dt.date) -> dt.date | Text:
    """The grid's date, as /capnhat reads a typed one: no future date, none before the campaigns."""
    day = read_day(text, today)
    if day is None:
        return t("official.figures.reason.not_a_date")
    return date_problem(day, today) or day


def check_row(code: str, cells: Mapping[str, str], known: Mapping[str, int | None], sure: bool) -> GridRow:
    """A row checked as /capnhat checks its answers: each count read ("82.930"), the installed
    count required, a blank keeping the value in force (stored blank, as chat's "keep" is), the
    subscribers required when none is known; the doubts chat asks about, unless `sure`."""
    row = GridRow(code, {f: str(cells.get(f, "")) for f in FIGURE_FIELDS})
    if row.blank:
        return row
    for name in FIGURE_FIELDS:
        text = row.cells[name].strip()
        if not text:
            row.values[name] = None
            continue
        value = read_count(text)
        if isinstance(value, Text):
            row.problems.append(
                t("dashboard.acting.figures.cell", column=t(f"dashboard.acting.columns.{name}"), reason=value)
            )
        else:
            row.values[name] = value
    if row.problems:
        return row
    if row.values["installed"] is None:
        row.problems.append(t("official.figures.reason.installed_required"))
    for name in DENOMINATORS:
        if row.values[name] is None and known.get(name) is None and name not in OPTIONAL:
            row.problems.append(t("official.figures.reason.subscribers_required"))
    if row.problems or sure:
        return row
    fig = {"answers": dict(row.values), "known": dict(known)}
    for name in DENOMINATORS:
        given = row.values[name] if row.values[name] is not None else known.get(name)
        found = doubt(fig, name, given) if given is not None else None
        if found is not None:
            row.doubts.append(t(f"dashboard.acting.doubts.{found.key.rsplit('.', 1)[-1]}", **found.values))
    return row


@dataclass(frozen=True)
class TargetEntry:
    unit: str
    rate: Fraction
    deadline: dt.date
    denominator: str


def check_target(unit: str, rate: str, deadline: str, denominator: str, today: dt.date) -> TargetEntry | list[Text]:
    """A target as /chitieu checks it: a rate as people write it, a deadline not past, a denominator."""
    problems: list[Text] = []
    try:
        read_rate = parse_rate(rate)
    except ValueError:
        problems.append(t("official.targets.reason.not_a_rate"))
    day = read_day(deadline, today)
    if day is None:
        problems.append(t("official.targets.reason.not_a_date"))
    elif (past := deadline_problem(day, today)) is not None:
        problems.append(past)
    if denominator not in DENOMINATORS:
        problems.append(t("official.targets.reason.choose_denominator"))
    if problems or day is None:
        return problems
    return TargetEntry(unit, read_rate, day, denominator)
