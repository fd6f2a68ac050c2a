"""The house formats: a moment "lúc 13:17 ngày 06/12/2026" in Vietnam's time, a day "6/12/2026",
a day with its weekday "Chủ nhật, ngày 6/12/2026", a phone "0912 345 678"; as every Text shows them."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from texts import Day, Phone, t
from texts.content import Content
from texts.formats import LOCAL_TIMEZONE, phone

CONTENT = Content.load()
show = CONTENT.format_value

MOMENT = re.compile(r"lúc (\d\d):(\d\d) ngày (\d\d)/(\d\d)/(\d{4})")
PLAIN = re.compile(r"([1-9]\d?)/([1-9]\d?)/(\d{4})")
WEEKDAYS = ["Thứ hai", "Thứ ba", "Thứ tư", "Thứ năm", "Thứ sáu", "Thứ bảy", "Chủ nhật"]

moments = st.datetimes(dt.datetime(1000, 1, 2), dt.datetime(9999, 12, 30), timezones=st.timezones())
days = st.dates(dt.date(1000, 1, 1), dt.date(9999, 12, 31))


def test_the_examples():
    assert show(dt.datetime(2026, 12, 6, 6, 17, tzinfo=dt.UTC)) == "lúc 13:17 ngày 06/12/2026"
    assert show(dt.datetime(2021, 8, 31, 17, 5)) == "lúc 00:05 ngày 01/09/2021"  # naive: a stored time, UTC
    assert show(dt.date(2026, 12, 6)) == "6/12/2026"
    assert show(Day(dt.date(2026, 12, 6))) == "Chủ nhật, ngày 6/12/2026"
    assert show(dt.time(9, 5)) == "09:05"
    assert show(Phone("+84912345678")) == "0912 345 678"
    assert show(Phone("(024) 3825.3536")) == "024 3825 3536"


def test_the_formats_in_their_sentences():
    """The words around a value are the template's; the format's own words are not said twice."""
    when = dt.datetime(2026, 12, 6, 6, 17, tzinfo=dt.UTC)
    assert CONTENT.render(t("install.already", when=when, commune="Phường Hoàn Kiếm")).startswith(
        "Bạn đã báo cài đặt lúc 13:17 ngày 06/12/2026 (tại Phường Hoàn Kiếm)"
    )
    title = CONTENT.render(t("tally.export.title", unit="Bắc Ninh", date=dt.date(2021, 8, 31)))
    assert title.endswith("Bắc Ninh, đến hết ngày 31/8/2021")
    subscribed = CONTENT.render(
        t("official.reports.subscribed", unit="Bắc Ninh", hour=7, first=Day(dt.date(2026, 12, 6)))
    )
    assert "bắt đầu từ Chủ nhật, ngày 6/12/2026." in subscribed


@given(moments)
def test_a_moment_is_vietnams_time_to_the_minute(moment):
    match = MOMENT.fullmatch(show(moment))
    assert match, show(moment)
    hour, minute, day, month, year = map(int, match.groups())
    local = moment.astimezone(LOCAL_TIMEZONE)
    assert (year, month, day, hour, minute) == (local.year, local.month, local.day, local.hour, local.minute)


@given(days)
def test_a_plain_date_reads_back_unpadded(day):
    match = PLAIN.fullmatch(show(day))
    assert match, show(day)
    assert dt.date(*map(int, reversed(match.groups()))) == day


@given(days)
def test_a_day_names_its_weekday(day):
    weekday, _, date = show(Day(day)).partition(", ngày ")
    assert date == show(day)
    assert weekday == WEEKDAYS[day.weekday()]


mobiles = st.tuples(st.sampled_from("35789"), st.text("0123456789", min_size=8, max_size=8)).map("".join)


@given(mobiles, st.sampled_from(["+84{}", "0{}", "+84 {}", "(0{})", "0{}."]), st.sampled_from(["", " ", ".", "-"]))
def test_a_vietnamese_mobile_is_grouped_4_3_3(rest, form, separator):
    typed = form.format(separator.join([rest[:2], rest[2:5], rest[5:]]))
    assert phone(typed) == f"0{rest[:3]} {rest[3:6]} {rest[6:]}"


@given(st.sampled_from("48"), st.text("0123456789", min_size=8, max_size=8))
def test_a_two_digit_area_landline_is_grouped_3_4_4(area, rest):
    assert phone(f"+842{area}{rest}") == phone(f"02{area} {rest}") == f"02{area} {rest[:4]} {rest[4:]}"


@pytest.mark.parametrize(
    "other",
    [
        "+12025550100",
        "0236 3822 123",
        "091234567",
        "09123456789",
        "1900 1234",
        "0912 345 678 (máy lẻ 12)",
        "chưa có",
        "",
        "０９１２３４５６７８",
    ],
)
def test_anything_else_is_shown_as_written(other):
    assert phone(other) == other


@given(st.text(st.characters(blacklist_categories=["Cs"]), max_size=20))
def test_phones_are_formatted_once_and_keep_their_digits(text):
    shown = phone(text)
    assert phone(shown) == shown
    if shown != text:  # only the separators went, and "+84" became "0"
        typed = re.sub(r"[^0-9+]", "", text)
        assert shown.replace(" ", "") == ("0" + typed[3:] if typed.startswith("+84") else typed)
