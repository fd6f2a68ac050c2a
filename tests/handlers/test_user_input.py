"""Digits and ids that only look ordinary: the number helper (properties), and what people get
when they type them or send them in a button (flows)."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from handlers.user_input import BIGINT_MAX, INT_MAX, number, record_id
from tests.harness import NO_BUTTONS, ChatDriver, grant_role

HOAN_KIEM = "00070"
FULL_WIDTH = dict(zip("0123456789", "０１２３４５６７８９"))


# --- numbers ------------------------------------------------------------------------------------------


@given(st.integers(0, 10**6), st.integers(0, 10**6), st.booleans(), st.text(" \t", max_size=2))
def test_a_number_in_ascii_or_full_width_digits_reads_back_within_its_bound(value, most, full_width, space):
    digits = "".join(FULL_WIDTH[d] for d in str(value)) if full_width else str(value)
    assert number(f"{space}{digits}{space}", most) == (value if value <= most else None)


@given(st.text(max_size=40), st.integers(0, BIGINT_MAX))
def test_anything_else_is_not_a_number_and_nothing_raises(text, most):
    value = number(text, most)
    digits = text.strip().translate(str.maketrans(dict(zip(FULL_WIDTH.values(), FULL_WIDTH))))
    if value is None:
        assert not (digits.isascii() and digits.isdigit() and int(digits) <= most)
    else:
        assert digits.isascii() and digits.isdigit() and int(digits) == value <= most


@pytest.mark.parametrize("text", ["²", "①", "٣", "३", "Ⅻ", "1²", "-1", "+1", "1.0", "1 2", "0x1f", "1_000", "", None,
                                  "9" * 5000, "0" * 5000 + "1" * 5000])
def test_what_only_looks_like_a_number_is_none(text):
    assert number(text, BIGINT_MAX) is None
    assert record_id(text) is None


def test_ids_are_bounded_by_the_columns_that_store_them():
    assert record_id("1") == 1 and record_id(str(INT_MAX)) == INT_MAX and record_id("0") is None
    assert record_id(str(INT_MAX + 1)) is None and record_id("99999999999999999999") is None
    assert record_id(str(INT_MAX + 1), BIGINT_MAX) == INT_MAX + 1 and record_id(str(BIGINT_MAX + 1), BIGINT_MAX) is None
    assert number("0" * 5000 + "7", 9) == 7  # leading zeros never make a big integer


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_superscript_and_circled_digits_at_a_numbered_menu_are_not_choices(service):
    """Typed at a numbered menu they used to get silence and a traceback; now the menu's "not
    understood", while full-width digits pick their option like ASCII ones."""
    chat = ChatDriver(service, user_id="7001", channel="plain", caps=NO_BUTTONS)
    await chat.send("/start")
    await chat.send("2")
    second = chat.keys
    for typed in ("²", "①", "2²", "99999999999999999999", "9" * 5000):
        await chat.send(typed)
        assert chat.keys == ["menu.not_understood"], typed
    await chat.send("２")
    assert chat.keys == second


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_superscript_digits_in_a_visit_are_asked_again_or_a_stale_button(service):
    """Typed at a count question, or in a button payload typed by hand (Zalo Bot Platform)."""
    await grant_role(service, "7002", "volunteer", HOAN_KIEM, channel="plain")
    chat = ChatDriver(service, user_id="7002", channel="plain", caps=NO_BUTTONS)
    await chat.send("/ghinhan")
    await chat.press("vh:²")
    assert chat.keys == ["visit.stale"]
    await chat.send("/ghinhan")
    await chat.send("Thôn 7")
    await chat.send("bỏ qua")
    await chat.send("1")  # helped
    assert chat.keys == ["visit.ask_smartphones"]
    for typed in ("²", "①", "٣"):
        await chat.send(typed)
        assert chat.keys == ["visit.retry"], typed
    await chat.send("３")
    assert chat.keys == ["visit.ask_installed_now"]
    await chat.press("vn:installed_now:①")
    assert chat.keys == ["visit.stale"]


# A forged or mangled button, and a plainly stale one of the same flow: both get the same answer.
FORGED = [
    ("vv:²", "vv:0"), ("vv:①", "vv:0"), ("vd:99999999999999999999:y", "vd:0:y"), ("vv:" + "9" * 5000, "vv:0"),
    ("vc:2147483648", "vc:0"), ("co:off:²", "co:off:0"), ("vr:ok:99999999999999999999", "vr:ok:0"),
    ("co:v:00070:²", "co:v:00070:x"), ("venues:v:²", "venues:v:0"), ("venues:x:" + "9" * 5000, "venues:x:0"),
    ("ci:y:²", "ci:y:0"), ("ci:n:99999999999999999999", "ci:n:0"), ("faq:p:²", "faq:p:x"),
    ("guide:android:²", "guide:android:x"), ("bc:h:01:²", "bc:h:01:99"),
]


async def test_forged_ids_in_buttons_get_the_flows_stale_answer_not_the_apology(service):
    await grant_role(service, "7003", "volunteer", HOAN_KIEM)
    await grant_role(service, "7003", "coordinator", HOAN_KIEM)
    chat = ChatDriver(service, user_id="7003")
    for forged, stale in FORGED:
        await chat.press(stale)
        expected = chat.keys
        await chat.press(forged)
        assert chat.keys == expected and "menu.internal_error" not in expected, forged[:40]
