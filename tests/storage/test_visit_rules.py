"""The arithmetic of visits, as properties: the count checks, the order of questions, the counter
contributions of a household's visits, and phone numbers."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.visits import answer_problem, bounds, next_question
from storage.visits import (
    MAX_PER_HOUSEHOLD,
    OUTCOME_COUNTERS,
    Figures,
    Outcome,
    Problem,
    baseline,
    check_counts,
    contribution,
    difference,
)
from storage.volunteers import normalize_phone

counts = st.integers(0, MAX_PER_HOUSEHOLD)
outcomes = st.sampled_from(list(Outcome))


@given(outcomes, counts, counts, counts)
def test_check_counts_accepts_exactly_the_consistent_figures(outcome, s, i, a):
    ok = (
        i + a <= s
        and {
            Outcome.HELPED: i >= 1,
            Outcome.ALREADY: i == 0 and a >= 1,
            Outcome.NO_SMARTPHONE: s == i == a == 0,
            Outcome.NOBODY_HOME: s == i == a == 0,
            Outcome.REFUSED: i == 0 and a < s,
        }[outcome]
    )
    assert (check_counts(outcome, s, i, a) == []) == ok


@given(outcomes, st.integers(-5, 40), counts, counts)
def test_out_of_bounds_counts_are_refused(outcome, s, i, a):
    if not 0 <= s <= MAX_PER_HOUSEHOLD:
        assert check_counts(outcome, s, i, a) == [Problem.RANGE]


def test_examples_of_problems():
    assert check_counts("helped", 2, 3, 0) == [Problem.SUM]
    assert check_counts("helped", 2, 0, 1) == [Problem.HELPED_NONE]
    assert check_counts("already", 2, 1, 1) == [Problem.ALREADY_HELPED]
    assert check_counts("refused", 2, 0, 2) == [Problem.REFUSED_NOTHING]
    assert check_counts("nobody_home", 1, 0, 0) == [Problem.NOBODY_COUNTS]


partial_visits = st.fixed_dictionaries(
    {"hamlet": st.just("Thôn 3"), "household": st.just("")},
    optional={
        "outcome": outcomes.map(str),
        "smartphones": st.integers(0, 25),
        "installed_now": st.integers(0, 25),
        "already_installed": st.integers(0, 25),
    },
)


@st.composite
def records(draw):
    """A return visit's record (storage.visits.baseline), or none for a first visit."""
    if not draw(st.booleans()):
        return {}
    smartphones = draw(counts)
    return {
        "revisit_of": 1,
        "base_smartphones": smartphones,
        "base_covered": draw(st.integers(0, smartphones)),
        "base_outcome": str(draw(outcomes)),
    }


@settings(max_examples=500)
@given(partial_visits, records(), st.booleans(), st.data())
def test_answering_within_the_offered_bounds_always_ends_in_consistent_figures(v, record, quick, data):
    """Whatever a shorthand line said and whatever is tapped among the offered answers, the
    questions end, and the visit they end with passes the checks; a return visit never installs
    on a phone its record says has the app (storage's room for it)."""
    v = {**v, **record}
    for _ in range(20):
        field, reason = next_question(v, quick)
        if field is None:
            break
        if field == "outcome":
            v["outcome"] = str(data.draw(outcomes))
            continue
        lo, hi = bounds(v, field)
        assert lo <= hi, (field, v)  # a question always has an answer
        n = data.draw(st.integers(lo, hi))
        assert answer_problem(v, field, n) is None
        v[field] = n
    else:
        raise AssertionError(f"questions never end: {v}")
    assert check_counts(v["outcome"], v["smartphones"], v["installed_now"], v["already_installed"]) == []
    if record:
        room = max(v["smartphones"], record["base_smartphones"]) - record["base_covered"]
        assert v["installed_now"] <= max(0, room), v


@given(partial_visits, records(), st.integers(-3, 30))
def test_an_answer_out_of_bounds_always_has_a_reason(v, record, n):
    v = {**v, **record}
    field, _ = next_question(v, quick=False)
    if field in ("smartphones", "installed_now", "already_installed"):
        lo, hi = bounds(v, field)
        assert (answer_problem(v, field, n) is None) == (lo <= n <= hi)


@st.composite
def visit_figures(draw):
    outcome = draw(outcomes)
    if outcome in (Outcome.NO_SMARTPHONE, Outcome.NOBODY_HOME):
        return {"outcome": str(outcome), "smartphones": 0, "installed_now": 0, "already_installed": 0}
    s = draw(st.integers(1, MAX_PER_HOUSEHOLD))
    if outcome is Outcome.HELPED:
        i = draw(st.integers(1, s))
        a = draw(st.integers(0, s - i))
    elif outcome is Outcome.ALREADY:
        i, a = 0, draw(st.integers(1, s))
    else:
        i, a = 0, draw(st.integers(0, s - 1))
    return {"outcome": str(outcome), "smartphones": s, "installed_now": i, "already_installed": a}


@given(st.lists(visit_figures(), min_size=1, max_size=6))
def test_a_household_counts_once_whatever_its_return_visits(chain):
    """First visit then return visits: one household, its phones once (the most seen), every
    install, and exactly one outcome count, the latest's, when it has a counter."""
    rows = []
    for k, figures in enumerate(chain):
        row = dict(figures)
        if k:
            row["revisit_of"] = k
            row.update(baseline(rows[-1]))
        rows.append(row)
    total = Counter()
    for row in rows:
        total.update(contribution(Figures.of(row)))
    assert total["households_visited"] == 1
    assert total["revisits"] == len(chain) - 1
    assert total["installs_helped"] == sum(f["installed_now"] for f in chain)
    assert total["smartphones_seen"] == max(f["smartphones"] for f in chain)
    latest = Outcome(chain[-1]["outcome"])
    for outcome, counter in OUTCOME_COUNTERS.items():
        assert total[counter] == (1 if outcome is latest else 0)


@given(visit_figures(), visit_figures(), st.booleans())
def test_a_correction_moves_the_counters_by_the_difference(old, new, revisit):
    base = {"revisit_of": 1, "base_outcome": "nobody_home", "base_smartphones": 2, "base_covered": 1} if revisit else {}
    before, after = Figures.of({**old, **base}), Figures.of({**new, **base})
    moved = Counter(contribution(before))
    moved.update(difference(contribution(after), contribution(before)))
    assert {k: v for k, v in moved.items() if v} == contribution(after)


@given(
    st.sampled_from(["3", "5", "7", "8", "9"]),
    st.text("0123456789", min_size=8, max_size=8),
    st.sampled_from(["0{}", "+84{}", "84{}", "+84 {}", "(0{})"]),
)
def test_vietnamese_mobile_numbers_normalize_to_one_form(first, rest, shape):
    number = shape.format(first + rest)
    spaced = " ".join([number[:4], number[4:7], number[7:]])
    assert normalize_phone(number) == normalize_phone(spaced) == f"+84{first}{rest}"


def test_what_is_not_a_mobile_number():
    for text in [
        "",
        "0123",
        "02438255555",
        "0912 345 67",
        "hello",
        "09123456789",
        "+1 202 555 0100",
        "０９１２３４５６７８",
    ]:
        assert normalize_phone(text) is None, text
    assert normalize_phone("+1 202 555 0100", any_country=True) == "+12025550100"  # shared by the contact button
