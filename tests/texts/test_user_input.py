"""Digits, ids and text that only look ordinary: the number helper and the cleaning of typed text
(properties), and what people get when they type them or send them in a button (flows)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from bot.settings import Secret, Settings
from storage.models import Venue, Volunteer
from tests.harness import NO_BUTTONS, ChatDriver, grant_role
from texts.user_input import BIGINT_MAX, INT_MAX, clean, is_name, number, record_id

HOAN_KIEM = "00070"
FULL_WIDTH = dict(zip("0123456789", "０１２３４５６７８９", strict=True))
BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


# --- numbers ------------------------------------------------------------------------------------------


@given(st.integers(0, 10**6), st.integers(0, 10**6), st.booleans(), st.text(" \t", max_size=2))
def test_a_number_in_ascii_or_full_width_digits_reads_back_within_its_bound(value, most, full_width, space):
    digits = "".join(FULL_WIDTH[d] for d in str(value)) if full_width else str(value)
    assert number(f"{space}{digits}{space}", most) == (value if value <= most else None)


@given(st.text(max_size=40), st.integers(0, BIGINT_MAX))
def test_anything_else_is_not_a_number_and_nothing_raises(text, most):
    value = number(text, most)
    digits = text.strip().translate(str.maketrans(dict(zip(FULL_WIDTH.values(), FULL_WIDTH, strict=True))))
    if value is None:
        assert not (digits.isascii() and digits.isdigit() and int(digits) <= most)
    else:
        assert digits.isascii() and digits.isdigit() and int(digits) == value <= most


@pytest.mark.parametrize(
    "text",
    [
        "²",
        "①",
        "٣",
        "३",
        "Ⅻ",
        "1²",
        "-1",
        "+1",
        "1.0",
        "1 2",
        "0x1f",
        "1_000",
        "",
        None,
        "9" * 5000,
        "0" * 5000 + "1" * 5000,
    ],
)
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
    ("vv:²", "vv:0"),
    ("vv:①", "vv:0"),
    ("vd:99999999999999999999:y", "vd:0:y"),
    ("vv:" + "9" * 5000, "vv:0"),
    ("vc:2147483648", "vc:0"),
    ("co:off:²", "co:off:0"),
    ("vr:ok:99999999999999999999", "vr:ok:0"),
    ("co:v:00070:²", "co:v:00070:x"),
    ("venues:v:²", "venues:v:0"),
    ("venues:x:" + "9" * 5000, "venues:x:0"),
    ("ci:y:²", "ci:y:0"),
    ("ci:n:99999999999999999999", "ci:n:0"),
    ("faq:p:²", "faq:p:x"),
    ("guide:android:²", "guide:android:x"),
    ("bc:h:01:²", "bc:h:01:99"),
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


# --- typed text, cleaned on its way in -----------------------------------------------------------------


def _unwanted(ch: str) -> bool:
    return (unicodedata.category(ch) in ("Cc", "Cs") and ch not in "\n\t") or ch in BIDI + "\u200b\u2060\ufeff"


@given(st.text(max_size=200))
def test_cleaned_text_has_no_control_or_bidi_character_is_nfc_and_cleans_to_itself(text):
    cleaned = clean(text)
    assert not any(_unwanted(ch) for ch in cleaned)
    assert unicodedata.is_normalized("NFC", cleaned)
    assert clean(cleaned) == cleaned


@given(
    st.lists(
        st.text(st.characters(blacklist_categories=("Cc", "Cs", "Cf", "Zl", "Zp")), max_size=30), min_size=1, max_size=6
    ),
    st.sampled_from(["\n", "\r\n", "\r", "\u2028"]),
)
def test_ordinary_text_keeps_its_words_and_its_lines(lines, line_break):
    """Multi-line shorthand and announcements keep their lines, whatever line break the phone sent."""
    cleaned = clean(line_break.join(lines))
    assert cleaned.split("\n") == [unicodedata.normalize("NFC", line) for line in lines]


def test_cleaning_removes_what_hides_or_reverses_text_and_keeps_emoji_sequences():
    assert clean("Chợ\x00 Hàng\x7f Da\x85") == "Chợ Hàng Da"
    assert clean("\u202eKFC lanif\u202c") == "KFC lanif"
    assert clean("\ufeff/start") == "/start" and clean("K\u200bFC") == "KFC"
    assert clean("Nguye\u0302\u0303n") == "Nguyễn"
    assert clean("👨\u200d👩\u200d👧\ufe0f\ta\tb") == "👨\u200d👩\u200d👧\ufe0f\ta\tb"  # joiners and tabs stay
    assert clean("\ud800x") == "x" and clean(None) is None


@pytest.fixture
def settings(database: dict) -> Settings:
    return Settings(
        database_url=database["url"],
        qr_signing_key=Secret("user-input-tests-qr-key"),
        telegram_bot_username="bluezone_test_bot",
    )


async def register_venue(chat: ChatDriver, name: str, address: str) -> None:
    await chat.press("venue")
    await chat.send(name)
    await chat.press("venue:kind:market")
    await chat.send("Hoàn Kiếm")
    await chat.send(address)
    await chat.press("venue:skip")
    await chat.press("venue:ok")
    assert chat.keys[0] == "venue.created", chat.keys


async def register_volunteer(chat: ChatDriver, name: str, team: str) -> None:
    await chat.press("reg:nocode")
    await chat.send("Hoàn Kiếm")
    await chat.send(name)
    await chat.send("0912 345 678")
    await chat.send(team)
    assert chat.keys == ["volunteer.pending_no_coordinator"], chat.keys


async def stored(service, model):
    async with service.sessions() as db:
        return (await db.scalars(select(model))).one()


async def test_control_characters_are_gone_before_the_save_on_both_databases(service):
    """U+0000 passed every step and failed the save on PostgreSQL, on every retry."""
    manager = ChatDriver(service, user_id="7004")
    await register_venue(manager, "Chợ Hàng\x00 Da\x1b", "Phố Hàng\x00 Da\x07")
    venue = await stored(service, Venue)
    assert (venue.name, venue.address) == ("Chợ Hàng Da", "Phố Hàng Da")
    await register_volunteer(ChatDriver(service, user_id="7005"), "Nguyễn\x00 Văn An", "Chi đoàn\x00 thôn 3")
    volunteer = await stored(service, Volunteer)
    assert (volunteer.display_name, volunteer.team) == ("Nguyễn Văn An", "Chi đoàn thôn 3")


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_names_are_stored_without_bidi_controls_and_composed(service):
    """ "\u202eKFC lanif" showed reversed; a name typed decomposed was stored decomposed."""
    await register_venue(ChatDriver(service, user_id="7008"), "\u202eKFC lanif", "Phố Hue\u0302\u0301")
    venue = await stored(service, Venue)
    assert (venue.name, venue.address) == ("KFC lanif", "Phố Huế")
    await register_volunteer(
        ChatDriver(service, user_id="7009"), "Nguye\u0302\u0303n Va\u0306n An", "\u202bĐội 3\u202c"
    )
    volunteer = await stored(service, Volunteer)
    assert (volunteer.display_name, volunteer.team) == ("Nguyễn Văn An", "Đội 3")
    assert unicodedata.is_normalized("NFC", volunteer.display_name)


# --- names ---------------------------------------------------------------------------------------------


# What a name may be made of and still show as nothing: emoji, joiners, bidi controls, invisible spaces.
NO_LETTER = st.lists(
    st.sampled_from(
        [
            "😀",
            "🍜",
            "👨\u200d👩\u200d👧",
            "\u200b",
            "\u200c",
            "\u200d",
            "\u2060",
            "\ufeff",
            "\ufe0f",
            " ",
            "-",
            "…",
            *BIDI,
        ]
    ),
    min_size=1,
    max_size=12,
).map("".join)


@given(NO_LETTER)
def test_a_name_needs_a_letter_or_digit(text):
    assert not is_name(clean(text))
    assert is_name(clean(text + "A")) and is_name(clean("3" + text)) and is_name("Đ")


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_names_without_a_letter_or_digit_are_refused(service):
    manager = ChatDriver(service, user_id="7006")
    await manager.press("venue")
    for name in ("\u200b\u200b\u200b", "\u202e\u202d\u202c\u200f", "🍜🍜🍜", "👨\u200d👩\u200d👧 ✨"):
        await manager.send(name)
        assert manager.keys == ["venue.name_no_letter"], name
    await manager.send("Quán 🍜 Phở Thìn")
    assert manager.keys == ["venue.ask_kind"]
    await manager.press("venue:kind:restaurant_hotel")
    await manager.send("Hoàn Kiếm")
    await manager.send("\u200d\u200d\u200d")
    assert manager.keys == ["venue.address_no_letter"]
    person = ChatDriver(service, user_id="7007")
    await person.press("reg:nocode")
    await person.send("Hoàn Kiếm")
    for name in ("😀😀", "\u200d\u200d\u200d", "\u202e \u202e "):
        await person.send(name)
        assert person.keys in (["volunteer.name_no_letter"], ["volunteer.name_invalid"]), name
    await person.send("An")
    await person.send("0912 345 678")
    await person.send("🎉🎉")
    assert person.keys == ["volunteer.team_no_letter"]
    async with service.sessions() as db:
        assert not (await db.scalars(select(Volunteer))).all() and not (await db.scalars(select(Venue))).all()
