"""Rendering for a channel's limits: numbered menus without buttons, long text split at paragraphs."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.render import MORE, MORE_KEY, Menu, render_step, split_text
from handlers.context import Capabilities
from handlers.types import Ask, Attachment, Button, Reply
from tests.harness import BUTTONS, NO_BUTTONS
from texts import t


@given(
    st.lists(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=300), max_size=30),
    st.integers(50, 2000),
)
def test_split_text_keeps_everything_within_the_limit(paragraphs, limit):
    text = "\n\n".join(paragraphs)
    pieces = split_text(text, limit)
    assert all(len(p) <= limit for p in pieces)
    if len(text) <= limit:
        assert pieces == [text]
    else:
        joined = "".join(pieces)
        assert joined.replace("\n", "").replace(" ", "") == text.replace("\n", "").replace(" ", "")


def test_split_prefers_paragraph_boundaries():
    text = "\n\n".join(["a" * 900, "b" * 900, "c" * 900])
    assert split_text(text, 2000) == ["a" * 900 + "\n\n" + "b" * 900, "c" * 900]


def test_numbered_menu_counts_across_replies(content):
    replies = (
        Reply("menu.home", [[Button(t("menu.guide"), payload="guide"), Button(t("menu.faq"), payload="faq")]]),
        Reply("commune.ask", [[Button("Xã A", payload="commune:00001")], [Button(t("common.home"), payload="menu")]]),
    )
    rendered, menu = render_step(replies, content, NO_BUTTONS, None)
    assert menu is not None and menu.choices == {1: "guide", 2: "faq", 3: "commune:00001", 4: "menu"}
    assert "1. 📲 Hướng dẫn cài đặt" in rendered[0].message.text and "Gõ 1 hoặc 2" in rendered[0].message.text
    assert "3. Xã A" in rendered[1].message.text and "Gõ 3 hoặc 4" in rendered[1].message.text
    assert all(r.message.buttons == [] for r in rendered)


def test_buttons_kept_where_the_channel_has_them(content):
    rendered, menu = render_step(
        (Reply("menu.home", [[Button(t("menu.guide"), payload="guide")]], edit=True),), content, BUTTONS, "9"
    )
    assert menu is None
    (r,) = rendered
    assert r.message.buttons[0][0].payload == "guide" and r.message.edit_ref == "9"


def test_long_reply_split_with_buttons_on_the_last_piece(content):
    caps = Capabilities(max_text=2000)
    long_text = "\n\n".join(["đoạn " * 100] * 6)
    reply = Reply(t("faq.answer", question="?", answer=long_text), [[Button(t("common.home"), payload="menu")]])
    rendered, _ = render_step((reply,), content, caps, None)
    assert len(rendered) > 1
    assert all(len(r.message.text) <= 2000 for r in rendered)
    assert [bool(r.message.buttons) for r in rendered] == [False] * (len(rendered) - 1) + [True]


def test_attachment_follows_its_text_and_ask_only_where_supported(content):
    pdf = Attachment("document", "poster.pdf", b"%PDF-1.7", "application/pdf", caption=t("common.home"))
    rendered, _ = render_step((Reply("menu.home", attachment=pdf, ask=Ask.LOCATION),), content, BUTTONS, None)
    assert [r.message.attachment_kind for r in rendered] == [None, "document"]
    assert rendered[1].attachment == b"%PDF-1.7" and rendered[1].message.filename == "poster.pdf"
    assert rendered[0].message.ask == "location" and rendered[0].message.ask_label
    rendered, _ = render_step((Reply("menu.home", ask=Ask.LOCATION),), content, NO_BUTTONS, None)
    assert rendered[0].message.ask is None


def test_a_file_only_reply_sends_the_file_with_its_buttons(content):
    png = Attachment("image", "poster.png", b"\x89PNG", "image/png", caption=t("common.home"))
    home = [[Button(t("common.home"), payload="menu")]]
    rendered, _ = render_step((Reply("common.file_only", home, attachment=png),), content, BUTTONS, None)
    (only,) = rendered
    assert only.message.attachment_kind == "image" and only.message.text == "🏠 Menu chính"
    assert only.message.buttons[0][0].payload == "menu"
    # Without buttons the choices need words: still one message, the file with its caption, then
    # the numbered list.
    rendered, menu = render_step((Reply("common.file_only", home, attachment=png),), content, NO_BUTTONS, None)
    (only,) = rendered
    assert only.message.attachment_kind == "image" and menu is not None and menu.choices == {1: "menu"}
    caption, options = only.message.text.split("\n\n")
    assert caption == content.render(t("common.home"))
    assert options.splitlines()[0] == content.render(t("common.numbered_option", number=1, label=t("common.home")))


def test_more_buttons_than_a_message_takes_become_a_numbered_list(content):
    caps = Capabilities(buttons=True, url_buttons=True, max_buttons=5)
    few = Reply("menu.home", [[Button(t("menu.guide"), payload="guide"), Button(t("menu.faq"), payload="faq")]])
    many = Reply(
        "commune.ask",
        [[Button(f"Xã {i}", payload=f"commune:{i:05d}")] for i in range(1, 7)]
        + [[Button("Mở CH Play", url="https://play.google.com/store/apps/details?id=x")]],
    )
    rendered, menu = render_step((few, many), content, caps, None)
    assert [b.payload for b in rendered[0].message.buttons[0]] == ["guide", "faq"]  # fits: kept as buttons
    assert rendered[1].message.buttons == []
    assert menu is not None and menu.choices == {i: f"commune:{i:05d}" for i in range(1, 7)}  # from 1 in this menu
    text = rendered[1].message.text
    assert (
        "1. Xã 1" in text and "6. Xã 6" in text and content.render(t("common.numbered_range", first=1, last=6)) in text
    )
    assert "play.google.com" in text  # the link button became a link line too


def test_exactly_max_buttons_stay_buttons(content):
    caps = Capabilities(buttons=True, max_buttons=5)
    reply = Reply("menu.home", [[Button(f"{i}", payload=f"p{i}")] for i in range(5)])
    rendered, menu = render_step((reply,), content, caps, None)
    assert menu is None and len(rendered[0].message.buttons) == 5


def test_a_label_that_numbers_itself_is_typed_by_its_number_and_never_numbered_twice(content):
    """A drill-down's "1. <commune>" matches the list its message shows: "1" picks it there too;
    the other choices take the numbers left. Two labels claiming one number lose theirs."""
    reply = Reply(
        "menu.home",
        [
            [Button(t("common.home"), payload="home")],
            [Button(t("official.drill", number=1, name="A"), payload="a")],
            [Button(t("official.drill", number=2, name="B"), payload="b")],
        ],
    )
    rendered, menu = render_step((reply,), content, NO_BUTTONS, None)
    assert menu is not None and menu.choices == {1: "a", 2: "b", 3: "home"}
    lines = rendered[0].message.text.split("\n\n")[-1].splitlines()
    option = lambda n, label: content.render(t("common.numbered_option", number=n, label=label))
    assert lines[:3] == [option(1, "A"), option(2, "B"), option(3, t("common.home"))]
    twice = Reply("menu.home", [[Button(t("official.drill", number=1, name=name), payload=name)] for name in "AB"])
    rendered, menu = render_step((twice,), content, NO_BUTTONS, None)
    assert menu is not None and menu.choices == {1: "A", 2: "B"}
    assert rendered[0].message.text.split("\n\n")[-1].splitlines()[:2] == [option(1, "A"), option(2, "B")]


def test_more_than_eight_choices_are_paged_behind_0(content):
    reply = Reply("menu.home", [[Button(f"x{i}", payload=f"p{i}")] for i in range(1, 20)])
    rendered, menu = render_step((reply,), content, NO_BUTTONS, None)
    assert menu is not None and menu.choices == {i: f"p{i}" for i in range(1, 20)}
    assert len(menu.more) == 2  # 8 shown, then 8, then 3
    more = content.render(t("common.numbered_option", number=MORE, label=t(MORE_KEY)))
    assert more in rendered[0].message.text and more in menu.more[0] and more not in menu.more[1]
    assert menu.pick("12") == "p12" and menu.pick("0") is None and menu.wants_more("0")
    assert Menu.load(menu.dump()) == menu
    assert Menu.load(["a", "b"]).choices == {1: "a", 2: "b"}  # a conversation stored before paging


def test_a_count_s_choices_are_shown_as_the_numbers_they_are(content):
    reply = Reply("menu.home", [[Button(str(n), payload=f"n{n}") for n in range(4)], [Button("x", payload="home")]])
    rendered, menu = render_step((reply,), content, NO_BUTTONS, None)
    assert menu is not None and menu.choices == {0: "n0", 1: "n1", 2: "n2", 3: "n3"}
    assert rendered[0].message.text.endswith(content.render(t("common.value_options", values="0 · 1 · 2 · 3")))
    assert not menu.wants_more("0")  # "0" is a count here


def test_blank_line_runs_are_tidied(content):
    rendered, _ = render_step((Reply(t("common.lines", lines="a\n\n\n\nb\n\n")),), content, NO_BUTTONS, None)
    assert rendered[0].message.text == "a\n\nb"


def test_choices_standing_for_buttons_come_after_the_file(content):
    pdf = Attachment("document", "poster.pdf", b"%PDF", "application/pdf", caption=t("common.back"))
    reply = Reply("menu.home", [[Button(t("common.home"), payload="menu")]], attachment=pdf)
    rendered, _ = render_step((reply,), content, NO_BUTTONS, None)
    assert [r.message.attachment_kind for r in rendered] == [None, "document"]
    assert rendered[0].message.text == content.render(t("menu.home"))
    option = content.render(t("common.numbered_option", number=1, label=t("common.home")))
    assert rendered[1].message.text.split("\n\n") == [
        content.render(t("common.back")),
        option + "\n" + content.render(t("common.numbered_hint", choices="1")),
    ]
    rendered, _ = render_step((reply,), content, BUTTONS, None)
    assert rendered[0].message.buttons and not rendered[1].message.buttons


def test_the_words_say_press_where_there_are_buttons_and_choose_where_numbers_are_typed(content):
    """content channel.toml: "{press}" is the buttons' word on Telegram and Zalo OA, the typed
    numbers' word on the Zalo Bot Platform and the terminal; a reply with more buttons than a
    message may carry is numbered, and says so too."""
    reply = Reply("official.figures.press_save", [[Button(t("official.figures.save"), payload="s")]])
    press, choose = content.campaign["Press"], content.numbered().campaign["Press"]
    assert press != choose
    (on_buttons,), _ = render_step((reply,), content, BUTTONS, None)
    (on_numbers,), _ = render_step((reply,), content, NO_BUTTONS, None)
    assert on_buttons.message.text.startswith(press) and on_numbers.message.text.startswith(choose)
    few = Capabilities(buttons=True, max_buttons=0)
    (on_few,), _ = render_step((reply,), content, few, None)
    assert on_few.message.text.startswith(choose)
    # Words without buttons of their own name the step's choices: as those are shown.
    words = Reply("official.figures.press_save")
    (above, _), _ = render_step((words, reply), content, few, None)
    assert above.message.text.startswith(choose)
    (above, _), _ = render_step((words, reply), content, BUTTONS, None)
    assert above.message.text.startswith(press)
    (alone,), _ = render_step((words,), content, few, None)
    assert alone.message.text.startswith(press)  # buttons, as far as this step shows
