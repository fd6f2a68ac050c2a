"""Rendering for a channel's limits: numbered menus without buttons, long text split at paragraphs."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.render import render_step, split_text
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
    assert "1. Xã 1" in text and "6. Xã 6" in text and "Gõ 1, 2, 3, 4, 5 hoặc 6" in text
    assert "play.google.com" in text  # the link button became a link line too


def test_exactly_max_buttons_stay_buttons(content):
    caps = Capabilities(buttons=True, max_buttons=5)
    reply = Reply("menu.home", [[Button(f"{i}", payload=f"p{i}")] for i in range(5)])
    rendered, menu = render_step((reply,), content, caps, None)
    assert menu is None and len(rendered[0].message.buttons) == 5
