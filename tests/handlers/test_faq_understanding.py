"""Typed citizen questions (issue 18): the evaluation set's shape, and what the bot makes of it."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from handlers.faq import build_ranker
from storage.folding import fold
from tests.handlers.faq_phrasings import NOT_UNDERSTOOD, STYLES, load, questions
from texts import t
from texts.content import Content

ROWS = load()


def test_the_set_is_large_enough_in_every_style():
    asked = questions(ROWS)
    assert len(asked) >= 150
    per_answer = Counter(r.expected for r in asked if r.expected.startswith("faq:q:"))
    assert all(n >= 5 for n in per_answer.values()), per_answer
    assert {r.style for r in asked} == set(STYLES)
    for expected in {r.expected for r in asked}:
        styles = {r.style for r in asked if r.expected == expected}
        assert styles == set(STYLES), (expected, styles)
    assert any(len(r.text.split()) >= 12 for r in asked) and any(len(r.text.split()) <= 3 for r in asked)
    assert sum(r.style == "small_talk" for r in ROWS) >= 20
    assert sum(r.expected == NOT_UNDERSTOOD for r in ROWS) >= 20
    texts = [r.text.lower() for r in ROWS]
    assert len(texts) == len(set(texts)), [x for x, n in Counter(texts).items() if n > 1]


def test_every_faq_answer_is_in_the_set(content):
    ids = {q["id"] for q in content.section("faq.questions")}
    assert {r.expected.split(":", 2)[2] for r in ROWS if r.expected.startswith("faq:q:")} == ids


def test_no_phrasing_is_copied_from_the_faq(content):
    """A phrasing found verbatim in a title or a keyword would measure the content, not the matcher."""
    written = []
    for i, question in enumerate(content.section("faq.questions")):
        written.append(fold(content.render(t(f"faq.questions.{i}.question"))))
        written += [fold(k) for k in question.get("keywords", [])]
    for intent in content.section("search.intents"):
        written += [fold(k) for k in intent["keywords"]]
    padded = [f" {w} " for w in written]
    for row in questions(ROWS):
        phrasing = f" {fold(row.text)} "
        assert not any(phrasing in w for w in padded), row.text


# -- what the matcher makes of the set (the figure itself: `make bench`, bench_faq_matching) --

# The share of questions whose first answer is the expected one. Measured 93.0% when the set was
# tuned on (docs/benchmarks.md); this floor is the aim, so a change that loses answers fails.
TOP_1_FLOOR = 0.90


@pytest.fixture(scope="module")
def ranker():
    return build_ranker(Content.load())


def test_top_1_answers_reach_the_floor(ranker):
    asked = questions(ROWS)
    hits = [r for r in asked if ranker.read(r.text).targets[:1] == (r.expected,)]
    missed = [(r.text, r.expected, ranker.read(r.text).targets) for r in asked if r not in hits]
    assert len(hits) / len(asked) >= TOP_1_FLOOR, missed


def test_unrelated_questions_get_no_answer(ranker):
    answered = [(r.text, ranker.read(r.text)) for r in ROWS if r.expected == NOT_UNDERSTOOD]
    assert [(text, reading.targets, reading.small_talk) for text, reading in answered if reading.understood] == []


def test_small_talk_is_told_apart(ranker):
    lines = [r for r in ROWS if r.style == "small_talk"]
    wrong = [
        (r.text, ranker.read(r.text).small_talk)
        for r in lines
        if f"small_talk:{ranker.read(r.text).small_talk}" != r.expected
    ]
    assert wrong == []


@given(st.text(max_size=80))
@settings(max_examples=300, deadline=None)
def test_any_text_reads_without_error(text):
    reading = _RANKER.read(text)
    assert len(reading.targets) <= 3
    assert not (reading.targets and reading.small_talk)


@pytest.mark.parametrize(
    ("typed", "read_as"),
    [
        ("dt cu ko cai dc", "dien thoai cu khong cai duoc"),
        ("Khônggggg đccc", "khong duoc"),
        ("BLUEZONE la j z", "ung dung la gi vay"),
        ("blue zone okk 👍", "ung dung ok ok"),
        ("Hoà", "hoa"),
    ],
)
def test_phone_writing_is_read_as_words(typed, read_as):
    assert " ".join(_RANKER.vocabulary.read(typed)) == read_as


_RANKER = build_ranker(Content.load())


@given(st.text(max_size=60))
@example("0ÐAA")  # a letter folding drops splits the word: each part is squeezed all the same
@settings(max_examples=300, deadline=None)
def test_reading_gives_plain_words_and_reading_them_again_changes_nothing(text):
    words = _RANKER.vocabulary.read(text)
    assert all(re.fullmatch("[a-z0-9]+", w) for w in words), words
    assert _RANKER.vocabulary.read(" ".join(words)) == words


@given(st.lists(st.sampled_from("abcde"), max_size=8), st.lists(st.sampled_from("abcde"), min_size=1, max_size=3))
def test_a_keyword_written_whole_is_always_found(words, phrase):
    from handlers.faq_ranking import _contains

    for cut in range(len(words) + 1):
        assert _contains((*words[:cut], *phrase, *words[cut:]), tuple(phrase))


def test_no_abbreviation_hides_a_word_the_faq_uses(content):
    """A spelling is compared folded: one that is also a word ("sai", wrong) would be rewritten
    wherever that word is typed. "app" is meant: the FAQ's "app gì" is "ứng dụng gì" too."""
    used = set()
    for i, question in enumerate(content.section("faq.questions")):
        used |= set(fold(content.render(t(f"faq.questions.{i}.question"))).split())
        used |= {w for k in question.get("keywords", []) for w in fold(k).split()}
    used |= {w for intent in content.section("search.intents") for k in intent["keywords"] for w in fold(k).split()}
    hidden = {
        spelling
        for meaning, spellings in content.section("search.writing.abbreviations").items()
        for spelling in spellings
        if fold(spelling) in used and fold(spelling) != fold(meaning)
    }
    assert hidden == {"app"}
