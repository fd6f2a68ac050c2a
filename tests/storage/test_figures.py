"""Reading figures and rates as officials write them; the figures in force on a date."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage.figures import last_known, parse_count, parse_rate, record_figure


@given(st.integers(0, 10**9), st.sampled_from([".", ",", " ", ""]))
def test_counts_with_thousands_separators(n, separator):
    grouped = f"{n:,}".replace(",", separator)
    assert parse_count(grouped) == n


@pytest.mark.parametrize("text", ["1.5", "82,93", "8.29.30", "-5", "abc", "1 2", "12.3456"])
def test_counts_refused(text):
    with pytest.raises(ValueError):
        parse_count(text)


@pytest.mark.parametrize("text", ["²", "①", "٣٠", "1²", "82.9³0", "²%", "٦٠%"])
def test_counts_and_rates_are_read_by_the_one_number_reader(text):
    """Digits that are not ASCII or full-width ones are no number, as in chat (texts.user_input):
    NFKC used to read "²" as 2 and "①" as 1."""
    with pytest.raises(ValueError):
        parse_count(text) if "%" not in text else parse_rate(text)


def test_full_width_digits_and_no_break_spaces_are_still_read():
    assert parse_count("８２.９３０") == 82930 and parse_count("82\u00a0930") == 82930
    assert parse_rate("６０％") == Fraction(3, 5)


@given(st.integers(1, 100), st.sampled_from(["%", " %"]))
def test_whole_percentages(p, suffix):
    assert parse_rate(f"{p}{suffix}") == Fraction(p, 100)
    if p >= 2:
        assert parse_rate(str(p)) == Fraction(p, 100)  # "65" is 65%


@given(st.integers(1, 9999), st.sampled_from([",", "."]))
def test_decimal_fractions_and_percentages(n, mark):
    fraction = Fraction(n, 10_000)
    assert parse_rate(f"0{mark}{n:04d}") == fraction
    percent = f"{n // 100}{mark}{n % 100:02d}%"
    assert parse_rate(percent) == fraction


@pytest.mark.parametrize(
    "text,rate",
    [
        ("60%", Fraction(3, 5)),
        ("0,6", Fraction(3, 5)),
        ("0.6", Fraction(3, 5)),
        ("1", Fraction(1)),
        ("100%", Fraction(1)),
        ("65,5%", Fraction(131, 200)),
    ],
)
def test_rates(text, rate):
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["0", "0%", "120%", "150", "1.5", "1,5", "abc", "", "60%%", "-60%"])
def test_rates_refused(text):
    with pytest.raises(ValueError):
        parse_rate(text)


async def test_last_known_carries_blanks(sessions):
    async with sessions() as db, db.begin():
        await record_figure(
            db,
            "07210",
            dt.date(2021, 7, 27),
            entered_by=None,
            source="t",
            installed=75930,
            subscribers=174229,
            population=200000,
        )
        await record_figure(db, "07210", dt.date(2021, 8, 3), entered_by=None, source="t", installed=82930)
    async with sessions() as db:
        before = await last_known(db, "07210", dt.date(2021, 8, 2))
        after = await last_known(db, "07210", dt.date(2021, 8, 3))
        nothing = await last_known(db, "07654", dt.date(2021, 8, 3))
    assert before.values["installed"] == 75930 and before.installed_on == dt.date(2021, 7, 27)
    assert after.values == {"installed": 82930, "subscribers": 174229, "population": 200000, "households": None}
    assert after.installed_on == dt.date(2021, 8, 3)
    assert set(nothing.values.values()) == {None} and nothing.installed_on is None
