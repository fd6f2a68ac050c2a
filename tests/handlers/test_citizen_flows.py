"""The citizen's conversations through the real engine: menu, guide, FAQ, support points, install."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from handlers.types import Kind
from storage.models import Account, OutboxMessage, SelfReportedInstall, User
from storage.support_points import import_csv
from tests.harness import NO_BUTTONS, ChatDriver

MENU = ["guide", "faq", "support", "install"]


async def test_start_greets_with_the_menu(service):
    chat = ChatDriver(service)
    replies = await chat.send("/start")
    assert chat.keys == ["menu.greeting"]
    assert chat.payloads() == MENU
    assert "Bluezone" in replies[0].text


async def test_android_guide_walks_to_the_last_step_and_back(service, content):
    chat = ChatDriver(service)
    await chat.press("guide")
    assert chat.payloads()[:2] == ["guide:android", "guide:iphone"]
    total = content.count("guide.android.steps")
    await chat.press("guide:android")
    assert chat.last[0].edit_ref == "42"  # Next/Back replace the screen in place
    assert chat.last[0].text.startswith(f"Bước 1/{total}")
    assert any("play.google.com" in url for url in chat.urls())  # the store link of step 1
    for i in range(1, total):
        await chat.press(f"guide:android:{i}")
        assert chat.last[0].text.startswith(f"Bước {i + 1}/{total}")
    assert f"guide:android:{total}" not in chat.payloads()  # no Next on the last step
    assert "install" in chat.payloads()  # "I have installed it" offered at the end
    await chat.press(f"guide:android:{total - 2}")
    assert chat.last[0].text.startswith(f"Bước {total - 1}/{total}")


async def test_guide_rejects_forged_positions(service):
    chat = ChatDriver(service)
    await chat.press("guide:android:999")  # clamps to the last step
    assert chat.last[0].key == "guide.step"
    await chat.press("guide:windowsphone")
    assert chat.keys == ["guide.choose_platform"]
    await chat.press("guide:android:x")
    assert chat.keys == ["guide.choose_platform"]


@pytest.mark.parametrize("question", ["hết pin", "het pin", "HẾT PIN không?", "app co ton pin khong"])
async def test_faq_by_free_text_is_accent_insensitive(service, question):
    chat = ChatDriver(service)
    await chat.send(question)
    assert chat.keys == ["faq.answer"]
    assert "pin" in chat.text().lower()
    assert "faq" in chat.payloads()


async def test_faq_browse_by_buttons(service, content):
    chat = ChatDriver(service)
    await chat.press("faq")
    first_page = [p for p in chat.payloads() if p.startswith("faq:q:")]
    assert len(first_page) == 7
    assert "faq:p:1" in chat.payloads()
    await chat.press(first_page[0])
    assert chat.keys == ["faq.answer"]
    ids = [q["id"] for q in content.section("faq.questions")]
    assert len(ids) >= 12
    seen = set()
    page = 0
    while True:
        await chat.press(f"faq:p:{page}")
        seen.update(p.split(":")[2] for p in chat.payloads() if p.startswith("faq:q:"))
        if f"faq:p:{page + 1}" not in chat.payloads():
            break
        page += 1
    assert seen == set(ids)


async def test_location_question_finds_location_answer(service):
    chat = ChatDriver(service)
    await chat.send("sao android doi quyen vi tri")
    assert "faq:q:location_permission" not in chat.payloads()  # it is the answer, not a suggestion
    assert "vị trí" in chat.last[0].text


async def test_typed_intent_opens_the_guide(service):
    chat = ChatDriver(service)
    await chat.send("hướng dẫn cài đặt")
    assert chat.keys == ["guide.choose_platform"]


async def _import_points(service):
    csv_text = (
        "commune_code,name,address,opening_hours,phone\n"
        "00070,Điểm giao dịch Viettel Hoàn Kiếm,12 Tràng Tiền,7:30–17:00,0241234567\n"
        "70,Bưu điện Hoàn Kiếm,75 Đinh Tiên Hoàng,,\n"
    )
    async with service.sessions() as db, db.begin():
        report = await import_csv(db, csv_text)
    assert report.imported == 2 and not report.errors


async def test_support_points_by_commune_search_and_remembered(service):
    await _import_points(service)
    chat = ChatDriver(service)
    await chat.press("support")
    assert chat.keys == ["support.ask_commune"]
    await chat.send("phuong hoan kiem")  # no diacritics, with the prefix
    assert chat.keys == ["support.points"]
    text = chat.text()
    assert "Bưu điện Hoàn Kiếm" in text and "12 Tràng Tiền" in text and "0241234567" in text
    assert " phường Hoàn Kiếm, " in text  # the commune's kind in lower case mid-sentence
    # The choice is remembered: next time the points come at once.
    await chat.press("support")
    assert chat.keys == ["support.points"]
    async with service.sessions() as db:
        user = (await db.scalars(select(User))).one()
        assert user.commune_code == "00070"


async def test_commune_with_many_matches_is_chosen_by_button(service):
    chat = ChatDriver(service)
    await chat.press("support")
    await chat.send("Tân Phú")
    assert chat.keys == ["commune.many_matches"] or chat.keys == ["commune.choose"]
    choices = [p for p in chat.payloads() if p.startswith("commune:")]
    assert 2 <= len(choices) <= 8
    await chat.press(choices[0])
    assert chat.keys == ["support.none"]  # no points loaded there
    assert "guide" in chat.payloads()


async def test_commune_name_matching_nothing_asks_again(service):
    chat = ChatDriver(service)
    await chat.press("support")
    await chat.send("Xyzzy Qwerty")
    assert chat.keys == ["commune.no_match"]
    await chat.send("Hoàn Kiếm")
    assert chat.keys == ["support.none"]


async def test_self_reported_install_is_counted_once(service):
    chat = ChatDriver(service)
    await chat.press("install")
    assert chat.keys == ["install.ask_commune"]
    await chat.send("Phường Hoàn Kiếm, Hà Nội")
    assert chat.keys == ["install.counted"] and " phường Hoàn Kiếm, " in chat.text()
    await chat.press("install")
    assert chat.keys == ["install.already"] and " phường Hoàn Kiếm, " in chat.text()
    await chat.send("tôi đã cài rồi")
    assert chat.keys == ["install.already"]
    async with service.sessions() as db:
        rows = (await db.scalars(select(SelfReportedInstall))).all()
        assert [(r.commune_code) for r in rows] == ["00070"]


@pytest.mark.parametrize("kind", [Kind.STICKER, Kind.PHOTO, Kind.VOICE, Kind.OTHER])
async def test_media_get_help_and_the_menu(service, kind):
    chat = ChatDriver(service)
    await chat.send_kind(kind)
    assert chat.keys == ["menu.not_understood"]
    assert chat.payloads() == MENU


@pytest.mark.parametrize("text", ["", "   ", "😀😀😀", "x" * 4096, "asdfgh qwerty"])
async def test_odd_text_gets_help_and_the_menu(service, text):
    chat = ChatDriver(service)
    await chat.send(text)
    assert chat.keys == ["menu.not_understood"]


async def test_unknown_and_stale_buttons(service):
    chat = ChatDriver(service)
    for payload in ["nonsense", "", "commune:99999", "faq:q:nope", "x" * 64]:
        await chat.press(payload)
        assert chat.last, payload
        assert chat.keys[0] in {"menu.stale_button", "commune.ask", "faq.list"}, (payload, chat.keys)


async def test_commune_matching_fifty_communes(service):
    chat = ChatDriver(service)
    await chat.press("support")
    await chat.send("an")  # matches a great many names
    assert chat.keys == ["commune.many_matches"]
    assert len([p for p in chat.payloads() if p.startswith("commune:")]) == 8


async def test_sticker_during_a_question_keeps_the_question(service):
    chat = ChatDriver(service)
    await chat.press("support")
    await chat.send_kind(Kind.STICKER)
    assert chat.keys == ["menu.off_topic_in_step"]
    await chat.send("Hoàn Kiếm")
    assert chat.keys == ["support.none"]


async def test_same_update_twice_is_handled_once(service):
    chat = ChatDriver(service)
    await chat.press("install")
    await chat.send("Hoàn Kiếm", update_id="dup-1")
    first = chat.keys
    await chat.send("Hoàn Kiếm", update_id="dup-1")
    assert first == ["install.counted"]
    assert chat.last == []  # nothing sent again
    async with service.sessions() as db:
        assert await db.scalar(select(func.count()).select_from(SelfReportedInstall)) == 1
        assert await db.scalar(select(func.count()).select_from(Account)) == 1


async def test_numbered_menu_on_a_channel_without_buttons(service):
    chat = ChatDriver(service, channel="plain", caps=NO_BUTTONS)
    replies = await chat.send("/start")
    assert replies[0].buttons == []
    assert "1. " in replies[0].text and "Gõ 1, 2, 3 hoặc 4" in replies[0].text
    await chat.send("1")  # the first menu entry: the guide
    assert chat.keys == ["guide.choose_platform"]
    await chat.send("1")  # Android
    assert chat.keys == ["guide.step"]
    assert "play.google.com" in chat.text()  # link shown as text where there are no link buttons
    await chat.send("99")  # not an option: free text, not understood
    assert chat.keys == ["menu.not_understood"]


async def test_a_failing_handler_apologises_and_stores_nothing(service, monkeypatch):
    from handlers import install

    async def boom(ctx, code):
        await install.report_install(ctx.db, ctx.user.id, code)
        raise RuntimeError("bug")

    monkeypatch.setattr(install, "record", boom)
    chat = ChatDriver(service)
    await chat.press("install")
    await chat.send("Hoàn Kiếm")
    assert chat.keys == ["menu.internal_error"]
    assert "Traceback" not in chat.text() and "bug" not in chat.text()
    async with service.sessions() as db:
        assert await db.scalar(select(func.count()).select_from(SelfReportedInstall)) == 0
        assert await db.scalar(select(func.count()).select_from(OutboxMessage)) >= 1


async def test_a_failing_first_message_still_gets_an_apology(service, monkeypatch):
    async def boom(msg, ctx):
        raise RuntimeError("bug on the very first update")

    monkeypatch.setitem(service.router.commands, "hoidap", boom)
    chat = ChatDriver(service, user_id="first-timer")
    await chat.send("/hoidap")
    assert chat.keys == ["menu.internal_error"]
    await chat.send("/start")
    assert chat.keys == ["menu.greeting"]


async def test_maso_shows_the_account_as_the_command_line_takes_it(service):
    chat = ChatDriver(service, user_id="4318802913410839210", channel="zalo_oa")
    await chat.send("/maso")
    assert chat.keys == ["menu.your_account"]
    assert "zalo_oa:4318802913410839210" in chat.text() and "menu" in chat.payloads()
