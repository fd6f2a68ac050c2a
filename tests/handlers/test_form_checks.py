"""The forms' checks called directly, as a page without a conversation (the dashboard's figures
grid) will call them: plain functions of a value and the form's values, saying why (a content
key) or None. And the declarations: every form's fields are the ones its flow asks."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers import figures_entry, targets, visits, volunteers
from handlers.figures_entry import EARLIEST, date_problem, households_over_population, installed_over
from handlers.forms import BLANK, Kept, plain
from handlers.targets import deadline_problem
from handlers.visits import count_problem, free_text_problem, hamlet_problem, household_problem
from handlers.volunteers import name_problem, team_problem
from storage.visits import HAMLET_MAX, MAX_PER_HOUSEHOLD, Outcome

TODAY = dt.date(2021, 8, 3)


def _fig(installed=None, population=None, known_population=None):
    answers = {"installed": installed} if installed is not None else {}
    if population is not None:
        answers["population"] = population
    known = {"population": known_population} if known_population is not None else {}
    return {"answers": answers, "known": known, "kept": []}


# --- official figures ---


@given(st.dates(EARLIEST, TODAY))
def test_any_day_from_2020_to_today_is_a_figures_date(day):
    assert date_problem(day, TODAY) is None


@pytest.mark.parametrize(
    "day,key",
    [
        (TODAY + dt.timedelta(days=1), "official.figures.reason.future"),
        (EARLIEST - dt.timedelta(days=1), "official.figures.reason.too_old"),
    ],
)
def test_future_and_too_old_dates_say_why(day, key):
    problem = date_problem(day, TODAY)
    assert problem is not None and problem.key == key


@given(installed=st.integers(0, 10**6), value=st.integers(0, 10**6))
def test_a_denominator_below_the_installed_count_is_doubted(installed, value):
    problem = installed_over("subscribers")(value, _fig(installed=installed))
    if value < installed:
        assert problem is not None and problem.key == "official.figures.doubt_installed_over"
        assert problem.values["kind"].key == "official.figures.kinds.subscribers"
    else:
        assert problem is None


def test_households_are_doubted_above_the_population_in_force():
    assert households_over_population(1001, _fig(known_population=1000)).key == (
        "official.figures.doubt_households_over"
    )
    assert households_over_population(1000, _fig(known_population=1000)) is None
    assert households_over_population(1500, _fig(population=2000, known_population=1000)) is None  # the new one
    assert households_over_population(10**6, _fig()) is None  # no population known: nothing to compare


# --- targets ---


def test_a_deadline_may_be_today_but_not_before():
    assert deadline_problem(TODAY, TODAY) is None
    assert deadline_problem(TODAY - dt.timedelta(days=1), TODAY).key == "official.targets.reason.past"


# --- visits ---


@given(n=st.integers(0, 999), smartphones=st.integers(1, MAX_PER_HOUSEHOLD))
def test_count_checks_accept_exactly_the_bounds(n, smartphones):
    v = {"outcome": Outcome.HELPED, "smartphones": smartphones}
    lo, hi = visits.bounds(v, "installed_now")
    problem = count_problem("installed_now")(n, v)
    assert (problem is None) == (lo <= n <= hi)


def test_place_names_keep_no_phone_number_and_fit():
    assert hamlet_problem("Thôn 3", {}) is None
    assert hamlet_problem("x" * (HAMLET_MAX + 1), {}).key == "visit.reason.too_long"
    assert household_problem("nhà 0912 345 678", {}).key == "visit.reason.no_phone_numbers"
    assert free_text_problem("", 10) is None  # a household left blank


# --- volunteer registration ---


def test_names_and_teams_need_a_letter():
    assert name_problem("Nguyễn Văn An") is None
    assert name_problem(None).key == "volunteer.name_invalid"
    assert name_problem("🙂🙂").key == "volunteer.name_no_letter"
    assert team_problem("Chi đoàn 3") is None
    assert team_problem("…").key == "volunteer.team_no_letter"


# --- the declarations ---


def test_each_form_declares_the_fields_its_flow_asks():
    assert [f.name for f in figures_entry.FORM.fields] == [
        "date",
        "installed",
        "subscribers",
        "population",
        "households",
    ]
    assert [f.name for f in targets.FORM.fields] == ["rate", "deadline", "denominator"]
    assert [f.name for f in visits.FORM.fields] == [
        "hamlet",
        "household",
        "outcome",
        "smartphones",
        "installed_now",
        "already_installed",
    ]
    assert [f.name for f in volunteers.FORM.fields] == ["reg_name", "reg_phone", "reg_team"]


def test_kept_and_blank_answers_read_as_their_values():
    assert plain(Kept(12)) == 12
    assert plain(BLANK) is None
    assert plain(7) == 7
