"""The grid's checks are chat's: each cell read as /capnhat reads a typed count, the same reasons
and doubts, a blank keeping the value in force; a target read as /chitieu reads it."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

from handlers.figures_grid import TargetEntry, check_row, check_target, read_grid_date

TODAY = dt.date(2026, 12, 6)
KNOWN = {"installed": 1000, "subscribers": 100000, "population": None, "households": None}


def cells(installed: str = "", subscribers: str = "", population: str = "", households: str = "") -> dict[str, str]:
    return {"installed": installed, "subscribers": subscribers, "population": population, "households": households}


def keys(texts) -> list[str]:
    return [x.key for x in texts]


def test_a_row_read_as_chat_reads_counts():
    row = check_row("07210", cells("82.930", population="1 200 000"), KNOWN, sure=False)
    assert row.ready and row.values == {
        "installed": 82930,
        "subscribers": None,
        "population": 1200000,
        "households": None,
    }


def test_a_blank_row_is_left_alone_and_a_row_needs_its_installed_count():
    assert check_row("07210", cells(), KNOWN, sure=False).blank
    assert keys(check_row("07210", cells(subscribers="5"), KNOWN, sure=False).problems) == [
        "official.figures.reason.installed_required"
    ]
    assert keys(check_row("07210", cells("5"), {**KNOWN, "subscribers": None}, sure=False).problems) == [
        "official.figures.reason.subscribers_required"
    ]


def test_a_cell_that_is_no_count_says_which_and_why():
    row = check_row("07210", cells("12,5", households="-3"), KNOWN, sure=False)
    assert keys(row.problems) == ["dashboard.acting.figures.cell"] * 2
    assert [p.values["reason"].key for p in row.problems] == [
        "official.figures.reason.not_a_number",
        "official.figures.reason.negative",
    ]
    assert not row.ready


def test_chats_doubts_hold_a_row_until_it_is_confirmed():
    over = check_row("07210", cells("120.000"), KNOWN, sure=False)  # above the subscribers known
    assert keys(over.doubts) == ["dashboard.acting.doubts.doubt_installed_over"] and not over.ready
    assert over.doubts[0].values["value"] == 100000
    households = check_row("07210", cells("10", population="50", households="60"), KNOWN, sure=False)
    assert keys(households.doubts) == ["dashboard.acting.doubts.doubt_households_over"]
    assert check_row("07210", cells("120.000"), KNOWN, sure=True).ready


def test_the_grids_date_as_chat_reads_one():
    assert read_grid_date("6/12", TODAY) == TODAY
    assert read_grid_date("7/12/2026", TODAY).key == "official.figures.reason.future"
    assert read_grid_date("1/1/2019", TODAY).key == "official.figures.reason.too_old"
    assert read_grid_date("32/13/2026", TODAY).key == "official.figures.reason.not_a_date"


def test_a_target_as_chitieu_reads_it():
    assert check_target("24", "65,5%", "31/12/2026", "households", TODAY) == TargetEntry(
        "24", Fraction(131, 200), dt.date(2026, 12, 31), "households"
    )
    problems = check_target("24", "150", "5/12/2026", "people", TODAY)
    assert keys(problems) == [
        "official.targets.reason.not_a_rate",
        "official.targets.reason.past",
        "official.targets.reason.choose_denominator",
    ]
