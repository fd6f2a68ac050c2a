"""Typed citizen questions (issue 18): the evaluation set's shape, and what the bot makes of it."""

from __future__ import annotations

from collections import Counter

from storage.folding import fold
from tests.handlers.faq_phrasings import NOT_UNDERSTOOD, STYLES, load, questions
from texts import t

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
