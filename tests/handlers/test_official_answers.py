"""The officials' typed answers read without a conversation: counts, dates, hours, the doubts
asked about, the order of questions, targets shown as officials write them, who views a unit."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.figures_entry import doubt, next_field, read_count, read_day
from handlers.officials import read_hour
from storage.figures import MAX_COUNT
from storage.roles import Role, viewer_role
from texts import Percent, Text

TODAY = dt.date(2021, 8, 3)


@given(st.integers(0, MAX_COUNT))
def test_counts_read_back(n):
    assert read_count(f"{n:,}".replace(",", ".")) == n
    assert read_count(str(n)) == n


@given(st.integers(1, 10**9))
def test_negative_and_huge_counts_say_why(n):
    assert read_count(f"-{n}").key == "official.figures.reason.negative"
    if n > MAX_COUNT:
        assert read_count(str(n)).key == "official.figures.reason.too_large"


@pytest.mark.parametrize("text", ["abc", "1.5", "82,93", "", "  ", "một trăm"])
def test_not_counts(text):
    answer = read_count(text)
    assert isinstance(answer, Text) and answer.key == "official.figures.reason.not_a_number"


@given(st.dates(dt.date(2000, 1, 1), dt.date(2099, 12, 31)))
def test_dates_in_every_written_form(day):
    for text in (
        day.strftime("%d/%m/%Y"),
        f"{day.day}/{day.month}/{day.year}",
        day.isoformat(),
        f"{day.day}-{day.month}-{day.year % 100:02d}",
    ):
        assert read_day(text, TODAY) == day, text
    if (day.month, day.day) != (2, 29):  # 2021 has none
        assert read_day(f"{day.day}/{day.month}", TODAY) == day.replace(year=TODAY.year)  # this year


@pytest.mark.parametrize("text", ["31/02/2021", "32/1", "hôm kia", "3/8/2021/1", "", "2021"])
def test_not_dates(text):
    assert read_day(text, TODAY) is None


@pytest.mark.parametrize(
    "text,hour", [("7", 7), ("07", 7), ("7h", 7), ("7:00", 7), ("7 giờ", 7), ("21g", 21), ("0", 0)]
)
def test_hours(text, hour):
    assert read_hour(text) == hour


@pytest.mark.parametrize("text", ["24", "7:30", "sáng", "", "123", "7 giờ sáng nay"])
def test_not_hours(text):
    assert read_hour(text) is None


def _fig(**answers):
    return {"date": "2021-08-03", "answers": answers, "known": {"population": 1000}, "kept": []}


def test_questions_in_order():
    assert next_field({"answers": {}, "known": {}}) == "date"
    assert next_field(_fig()) == "installed"
    assert next_field(_fig(installed=5)) == "subscribers"
    assert next_field(_fig(installed=5, subscribers=None, population=None)) == "households"
    assert next_field(_fig(installed=5, subscribers=9, population=None, households=None)) is None


@given(st.integers(0, 10**6), st.integers(0, 10**6))
def test_installed_above_a_denominator_is_doubted(installed, value):
    for field in ("subscribers", "population"):
        problem = doubt(_fig(installed=installed), field, value)
        assert (problem is not None) == (installed > value)


def test_households_above_population_is_doubted():
    assert doubt(_fig(installed=1), "households", 1001).key == "official.figures.doubt_households_over"
    assert doubt(_fig(installed=1), "households", 1000) is None
    assert doubt(_fig(installed=1, population=2000), "households", 1500) is None  # the new population counts


@given(st.integers(1, 10**6))
def test_targets_shown_as_written(ppm):
    shown = Percent.target(Fraction(ppm, 10**6))
    assert shown.digits in (0, 1, 2)
    assert Fraction(shown.truncated()) <= Fraction(ppm, 10**6)
    if ppm % 10_000 == 0:
        assert shown.digits == 0  # 60%, not 60,00%


def test_who_views_a_unit():
    assert [viewer_role(u) for u in ("VN", "24", "07210")] == [Role.ADMIN, Role.PROVINCE_OFFICER, Role.COORDINATOR]
