"""The one-line shorthand parser: the issue's examples, and properties over generated lines (any
order, with or without accents and separators, any case)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from handlers.shorthand import Parsed, Vocabulary, parse, parse_hamlet, parse_household
from storage.folding import fold
from texts.content import Content

VOCABULARY = Vocabulary.from_section(Content.load().section("shorthand"))

EXAMPLES = {
    "thôn 3, số 12, 4 máy, cài 3, có sẵn 1": Parsed("Thôn 3", "12", None, 4, 3, 1, household_marked=True),
    "Ấp Phú Hòa - nhà ông Ba - 2 may - cai 2": Parsed(
        "Ấp Phú Hòa", "nhà ông Ba", None, 2, 2, None, household_marked=True
    ),
    "ap phu hoa, nha canh cho, vang nha": Parsed("Ấp Phu Hoa", "nha canh cho", "nobody_home", household_marked=True),
    "to 5 so 7 3 may cai 1 san 2": Parsed("Tổ dân phố 5", "7", None, 3, 1, 2, household_marked=True),
    "xóm Đình, không có máy": Parsed("Xóm Đình", None, "no_smartphone"),
    "tổ 2 số 9 vắng nhà": Parsed("Tổ dân phố 2", "9", "nobody_home", household_marked=True),
}


@pytest.mark.parametrize("line", list(EXAMPLES))
def test_the_issue_examples(line):
    parsed = parse(line, VOCABULARY)
    assert parsed == EXAMPLES[line]
    assert parsed.is_visit


@pytest.mark.parametrize(
    "line,field,value",
    [
        ("THÔN 3 SỐ 5 VẮNG NHÀ", "outcome", "nobody_home"),
        ("k co may, thon Dong", "outcome", "no_smartphone"),  # "k" is "không"
        ("thôn 1 số 3 ko đồng ý", "outcome", "refused"),
        ("xóm Mới, 2 máy cài 1", "hamlet", "Xóm Mới"),  # "mới" is a filler word, but here a name
        ("ấp Phú Hòa có 3 máy cài 2", "hamlet", "Ấp Phú Hòa"),  # "có" before a number is not the name
        ("số 12 ngõ 4 thôn 2 vắng", "household", "12, ngõ 4"),
        ("3may cai2 thon 1", "smartphones", 3),
        ("thôn 1 máy 4 cài 2", "smartphones", 4),  # the number after, when none comes before
        ("thôn 1, 2 cái máy, cài 1", "smartphones", 2),  # "cái" (with its accent) is not "cài"
        ("thôn 1 số 12/3A 1 máy cài 1", "household", "12/3A"),
        ("thôn 3, cạnh chợ, 2 máy cài 2", "household", "cạnh chợ"),  # words with no place: the household
        ("thôn 3, nhà đầu ngõ, 2 máy cài 2", "household", "nhà đầu ngõ"),  # "ngõ" with no number is a word
        ("thôn 3, nhà 12, 2 máy cài 2", "household", "12"),  # a number drops its word
    ],
)
def test_more_forms(line, field, value):
    assert getattr(parse(line, VOCABULARY), field) == value


@pytest.mark.parametrize(
    "line",
    ["hết pin thì sao", "không cài được thì sao", "cài thế nào", "tôi đã cài rồi", "", "   ", "😀", "12"],
)
def test_questions_are_not_visit_lines(line):
    assert not parse(line, VOCABULARY).is_visit


def test_what_is_not_understood_is_reported():
    parsed = parse("thôn 3 số 12 4 mays cai 3", VOCABULARY)
    assert parsed.unknown == ("4", "mays")
    assert parse("thôn 3, 2 máy, 3 máy", VOCABULARY).repeated == ("smartphones",)


def test_answers_to_single_questions():
    assert parse_hamlet("thon 3", VOCABULARY) == "Thôn 3"
    assert parse_hamlet("Đồng Tâm", VOCABULARY) == "Đồng Tâm"
    assert parse_hamlet(" , ", VOCABULARY) is None
    assert parse_household("số 12", VOCABULARY) == "12"
    assert parse_household("cạnh cây đa", VOCABULARY) == "cạnh cây đa"


# --- properties over generated lines ---

KINDS = [(k["label"], w) for k in Content.load().section("shorthand")["hamlet_kinds"] for w in k["words"]]
NAMES = ["Phú Hòa", "Đình", "Đông", "Tân Lập", "Bắc Sơn", "Hạ", "Trung", "An Bình"]
DESCRIPTIONS = ["ông Ba", "bà Tư", "cạnh chợ", "cuối đường", "sau đình", "gần trường"]
HOUSE_NUMBERS = st.one_of(
    st.integers(1, 999).map(str),
    st.tuples(st.integers(1, 99), st.sampled_from("ABC")).map(lambda t: f"{t[0]}{t[1]}"),
    st.tuples(st.integers(1, 99), st.integers(1, 30)).map(lambda t: f"{t[0]}/{t[1]}"),
)
SEPARATORS = st.sampled_from([" ", ", ", " - ", "; ", " , ", ". "])


def strip_accents(text: str) -> str:
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return unicodedata.normalize("NFC", "".join(ch for ch in text if not unicodedata.combining(ch)))


@st.composite
def visit_lines(draw):
    """A line and what it says: a hamlet, maybe a household, and counts or an outcome word."""
    label, kind_word = draw(st.sampled_from(KINDS))
    name = draw(st.one_of(st.integers(1, 30).map(str), st.sampled_from(NAMES)))
    parts = [f"{kind_word} {name}"]
    expected: dict = {"hamlet": f"{label} {name}"}
    household_kind = draw(st.sampled_from(["none", "number", "description"]))
    if household_kind == "number":
        number = draw(HOUSE_NUMBERS)
        parts.append(f"{draw(st.sampled_from(['số', 'số nhà', 'sn', 'nhà số']))} {number}")
        expected["household"] = number
    elif household_kind == "description":
        description = draw(st.sampled_from(DESCRIPTIONS))
        word = draw(st.sampled_from(["nhà", "hộ"]))
        parts.append(f"{word} {description}")
        expected["household"] = f"{word} {description}"  # a description is kept whole
        # "vắng nhà ông Ba" without a separator also reads as nobody home at "ông Ba".
        expected["household_or"] = (word, description)
    if draw(st.booleans()):
        outcome = draw(st.sampled_from(["no_smartphone", "nobody_home", "refused"]))
        parts.append(draw(st.sampled_from(VOCABULARY_WORDS[outcome])))
        expected["outcome"] = outcome
    else:
        s, i, a = draw(st.integers(0, 20)), draw(st.integers(0, 20)), draw(st.integers(0, 20))
        shown = draw(st.sets(st.sampled_from(["smartphones", "installed_now", "already_installed"]), min_size=1))
        if "smartphones" in shown:
            parts.append(draw(st.sampled_from([f"{s} máy", f"{s} điện thoại", f"{s} đt"])))
            expected["smartphones"] = s
        if "installed_now" in shown:
            parts.append(draw(st.sampled_from([f"cài {i}", f"cài mới {i}", f"cài giúp {i}"])))
            expected["installed_now"] = i
        if "already_installed" in shown:
            parts.append(draw(st.sampled_from([f"có sẵn {a}", f"sẵn {a}", f"đã có {a}"])))
            expected["already_installed"] = a
    order = draw(st.permutations(parts))
    line = order[0]
    for part in order[1:]:
        line += draw(SEPARATORS) + part
    if draw(st.booleans()):
        line = strip_accents(line)
    line = draw(st.sampled_from([line, line.lower(), line.upper()]))
    return line, expected


VOCABULARY_WORDS = {
    category: [" ".join(p.words) for p in VOCABULARY.phrases if p.category == category]
    for category in ("no_smartphone", "nobody_home", "refused")
}


def same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and fold(a) == fold(b)


def plain(text: str) -> str:
    """Lower case without accents, separators kept (so "a b" is not "a, b")."""
    return strip_accents(text.lower())


def read_as_outcome(line: str, word: str, description: str, parsed) -> bool:
    """The household's word read as the end of an outcome phrase just before it (no separator)."""
    return (
        same(parsed.household, description)
        and parsed.outcome is not None
        and any(
            p.split()[-1] == word and f" {plain(p)} {plain(description)}" in f" {plain(line)}"
            for p in VOCABULARY_WORDS[parsed.outcome]
        )
    )


@settings(max_examples=400)
@given(visit_lines())
def test_generated_lines_parse_to_what_they_say(case):
    line, expected = case
    parsed = parse(line, VOCABULARY)
    assert parsed.unknown == () and parsed.repeated == (), (line, parsed)
    assert same(parsed.hamlet, expected["hamlet"]), (line, parsed)
    if "household" in expected:
        eaten = "household_or" in expected and read_as_outcome(line, *expected["household_or"], parsed)
        assert same(parsed.household, expected["household"]) or eaten, (line, parsed)
    else:
        assert parsed.household is None, (line, parsed)
    assert parsed.outcome == expected.get("outcome"), (line, parsed)
    for name in ("smartphones", "installed_now", "already_installed"):
        assert getattr(parsed, name) == expected.get(name), (line, name, parsed)
    assert parsed.is_visit


@given(st.text(max_size=200))
def test_any_text_parses_without_error(text):
    parsed = parse(text, VOCABULARY)
    assert isinstance(parsed.unknown, tuple)
    for value in (parsed.smartphones, parsed.installed_now, parsed.already_installed):
        assert value is None or value >= 0


@given(visit_lines(), st.sampled_from(["\n", "  ", "\t"]))
def test_whitespace_around_a_line_changes_nothing(case, space):
    line, _ = case
    assume(line.strip())
    assert parse(f"{space}{line}{space}", VOCABULARY) == parse(line, VOCABULARY)
