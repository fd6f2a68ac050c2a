"""Volunteers end to end on Telegram: the real python-telegram-bot client against the Bot API
stand-in, from the invite link to saved visits, checking the wire (keyboards) and the rows."""

from __future__ import annotations

from sqlalchemy import select

from storage import roles
from storage.accounts import find_or_create_person
from storage.models import Visit, VisitRevision
from tests.channels.test_telegram_e2e import exchange, polling_bot, tg  # noqa: F401 - fixtures

HOAN_KIEM, CUA_NAM = "00070", "00082"


async def grant(service, telegram_id: int, role: str, unit: str) -> None:
    async with service.sessions() as db, db.begin():
        person, _ = await find_or_create_person(db, "telegram", str(telegram_id))
        await roles.grant(db, person.id, roles.Role(role), unit)


async def visits_stored(service) -> list[Visit]:
    async with service.sessions() as db:
        return list((await db.scalars(select(Visit).order_by(Visit.id))).all())


def data_starting(call, prefix: str) -> str:
    return next(d for d in call.callback_data() if d.startswith(prefix))


async def join_by_invite(tg, coordinator, user, name="An", phone="+84912345678"):
    """The coordinator makes an invite; `user` opens its link and registers with the contact button."""
    (desk,) = await exchange(tg, coordinator.id, lambda: coordinator.press("co"))
    assert f"co:i:{HOAN_KIEM}" in desk.callback_data()
    (invite,) = await exchange(tg, coordinator.id, lambda: coordinator.press(f"co:i:{HOAN_KIEM}"))
    link = next(word for word in invite.text.split() if word.startswith("https://t.me/"))
    assert link.startswith("https://t.me/bluezone_test_bot?start=v-")
    start = link.split("start=", 1)[1]
    (ask_name,) = await exchange(tg, user.id, lambda: user.send_command("start", start))
    assert "Hoàn Kiếm" in ask_name.text
    (ask_phone,) = await exchange(tg, user.id, lambda: user.send_text(name))
    keyboard = ask_phone.reply_markup["keyboard"]
    assert keyboard[0][0]["request_contact"] is True and tg.reply_keyboard(user.id) is not None
    # The answer takes the contact keyboard away, then offers [Bỏ qua] on a message of its own.
    ask_team, skip = await exchange(tg, user.id, lambda: user.send_contact(phone), count=2)
    assert ask_team.reply_markup == {"remove_keyboard": True} and skip.callback_data()[0] == "reg:skip"
    assert tg.reply_keyboard(user.id) is None
    (welcome,) = await exchange(tg, user.id, lambda: user.press("reg:skip"))
    assert "visit" in welcome.callback_data()
    return welcome


async def test_invite_register_log_by_buttons_and_save(tg, polling_bot):
    service = polling_bot
    await grant(service, 7201, "coordinator", HOAN_KIEM)
    coordinator, an = tg.user(7201, first_name="Hà"), tg.user(7202, first_name="An")
    (menu,) = await exchange(tg, coordinator.id, lambda: coordinator.send_command("start"))
    assert "co" in menu.callback_data()
    await join_by_invite(tg, coordinator, an)
    joined = await tg.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == coordinator.id and "An" in c.text)
    assert "mã mời" in joined.text

    await exchange(tg, an.id, lambda: an.press("visit"))
    (household,) = await exchange(tg, an.id, lambda: an.send_text("Thôn 3"))
    assert household.callback_data()[0] == "vx"
    (outcome,) = await exchange(tg, an.id, lambda: an.press("vx"))
    assert "vo:helped" in outcome.callback_data()
    (phones,) = await exchange(tg, an.id, lambda: an.press("vo:helped"))
    assert phones.callback_data()[:3] == ["vn:smartphones:1", "vn:smartphones:2", "vn:smartphones:3"]
    (summary,) = await exchange(tg, an.id, lambda: an.press("vn:smartphones:1"))  # one phone: it was the one installed
    assert "Thôn 3" in summary.text and "cài giúp: 1" in summary.text
    save = data_starting(summary, "vs:save:")
    (saved,) = await exchange(tg, an.id, lambda: an.press(save))
    assert saved.text.startswith("✅ Đã lưu.") and "1 hộ" in saved.text
    (second,) = await exchange(tg, an.id, lambda: an.press(save, message=summary.result))  # the old button again
    assert "đã được lưu rồi" in second.text
    (visit,) = await visits_stored(service)
    assert (visit.hamlet, visit.household, visit.outcome, visit.installed_now) == ("Thôn 3", "", "helped", 1)


async def test_each_shorthand_example(tg, polling_bot):
    service = polling_bot
    await grant(service, 7211, "volunteer", HOAN_KIEM)
    binh = tg.user(7211)
    lines = [
        "thôn 3, số 12, 4 máy, cài 3, có sẵn 1",
        "Ấp Phú Hòa - nhà ông Ba - 2 may - cai 2",
        "to 5 so 7 3 may cai 1 san 2",
        "xóm Đình, không có máy",
        "tổ 2 số 9 vắng nhà",
    ]
    for line in lines:
        (summary,) = await exchange(tg, binh.id, lambda line=line: binh.send_text(line))
        assert summary.text.startswith("📋"), summary.text
        (saved,) = await exchange(tg, binh.id, lambda s=summary: binh.press(data_starting(s, "vs:save:")))
        assert saved.text.startswith("✅")
    got = [
        (v.hamlet, v.household, v.outcome, v.smartphones, v.installed_now, v.already_installed)
        for v in await visits_stored(service)
    ]
    assert got == [
        ("Thôn 3", "12", "helped", 4, 3, 1),
        ("Ấp Phú Hòa", "nhà ông Ba", "helped", 2, 2, 0),  # the description kept whole (issue 19)
        ("Tổ dân phố 5", "7", "helped", 3, 1, 2),
        ("Xóm Đình", "", "no_smartphone", 0, 0, 0),
        ("Tổ dân phố 2", "9", "nobody_home", 0, 0, 0),
    ]


async def location_asked(tg, service, telegram_id: int, line: str):
    """A volunteer sends a line and taps 📍 on its summary: the location keyboard appears."""
    await grant(service, telegram_id, "volunteer", HOAN_KIEM)
    user = tg.user(telegram_id)
    (summary,) = await exchange(tg, user.id, lambda: user.send_text(line))
    (ask,) = await exchange(tg, user.id, lambda: user.press(data_starting(summary, "vs:loc:")))
    assert ask.reply_markup["keyboard"][0][0]["request_location"] is True and tg.reply_keyboard(user.id) is not None
    return user, summary


async def test_location_keyboard_comes_and_goes(tg, polling_bot):
    service = polling_bot
    cuong, _ = await location_asked(tg, service, 7221, "thôn 1 số 2 vắng nhà")
    added, again = await exchange(tg, cuong.id, lambda: cuong.send_location(21.028511, 105.854167), count=2)
    assert added.reply_markup == {"remove_keyboard": True} and tg.reply_keyboard(cuong.id) is None
    assert "📍" in again.text and not any(d.startswith("vs:loc:") for d in again.callback_data())
    await exchange(tg, cuong.id, lambda: cuong.press(data_starting(again, "vs:save:")))
    (visit,) = await visits_stored(service)
    assert (visit.latitude, visit.longitude) == (21.029, 105.854)


async def test_location_asked_then_saved_without_it_removes_the_keyboard(tg, polling_bot):
    service = polling_bot
    dao, summary = await location_asked(tg, service, 7222, "thôn 1 số 3 từ chối 1 máy")
    saved, more = await exchange(
        tg, dao.id, lambda: dao.press(data_starting(summary, "vs:save:"), message=summary.result), count=2
    )
    assert saved.text.startswith("✅") and saved.reply_markup == {"remove_keyboard": True}
    assert tg.reply_keyboard(dao.id) is None and any(d.startswith("visit:c:") for d in more.callback_data())
    (visit,) = await visits_stored(service)
    assert visit.latitude is None and visit.outcome == "refused"


async def test_duplicate_correction_and_deletion(tg, polling_bot):
    service = polling_bot
    await grant(service, 7231, "volunteer", HOAN_KIEM)
    em = tg.user(7231)
    (summary,) = await exchange(tg, em.id, lambda: em.send_text("thôn 4 số 1 vắng nhà"))
    await exchange(tg, em.id, lambda: em.press(data_starting(summary, "vs:save:")))
    (summary,) = await exchange(tg, em.id, lambda: em.send_text("thon 4 so 1 2 may cai 1 co san 1"))
    assert "⚠️" in summary.text and "chính bạn" in summary.text
    revisit = next(d for d in summary.callback_data() if d.endswith(":r"))
    (saved,) = await exchange(tg, em.id, lambda: em.press(revisit))
    assert "quay lại" in saved.text
    first, second = await visits_stored(service)
    assert second.revisit_of == first.id

    # Correct the return visit: 2 installed, not 1.
    (listing,) = await exchange(tg, em.id, lambda: em.press("vl"))
    assert listing.callback_data()[:2] == [f"vv:{second.id}", f"vv:{first.id}"]
    await exchange(tg, em.id, lambda: em.press(f"vv:{second.id}"))
    (which,) = await exchange(tg, em.id, lambda: em.press(f"vc:{second.id}"))
    result = data_starting(which, "ve:")
    result = result.rsplit(":", 1)[0] + ":result"
    await exchange(tg, em.id, lambda: em.press(result))
    await exchange(tg, em.id, lambda: em.press("vo:helped"))
    await exchange(tg, em.id, lambda: em.press("vn:smartphones:2"))
    (summary,) = await exchange(tg, em.id, lambda: em.press("vn:installed_now:2"))
    assert summary.text.startswith("✏️")
    (corrected,) = await exchange(tg, em.id, lambda: em.press(data_starting(summary, "vs:save:")))
    assert corrected.text.startswith("✅ Đã sửa")
    async with service.sessions() as db:
        (revision,) = (await db.scalars(select(VisitRevision))).all()
        assert revision.before["installed_now"] == 1 and revision.after["installed_now"] == 2

    # The first visit has a return visit: not deletable; the return visit is.
    await exchange(tg, em.id, lambda: em.send_text("/luotham"))
    await exchange(tg, em.id, lambda: em.press(f"vv:{first.id}"))
    (refused,) = await exchange(tg, em.id, lambda: em.press(f"vd:{first.id}"))
    assert "quay lại" in refused.text
    await exchange(tg, em.id, lambda: em.send_text("/luotham"))
    await exchange(tg, em.id, lambda: em.press(f"vv:{second.id}"))
    await exchange(tg, em.id, lambda: em.press(f"vd:{second.id}"))
    (deleted,) = await exchange(tg, em.id, lambda: em.press(f"vd:{second.id}:y"))
    assert deleted.text.startswith("Đã xóa")
    first, second = await visits_stored(service)
    assert second.deleted_at is not None and first.deleted_at is None


async def test_approval_by_the_coordinator(tg, polling_bot):
    service = polling_bot
    await grant(service, 7241, "coordinator", HOAN_KIEM)
    coordinator, giang = tg.user(7241), tg.user(7242, first_name="Giang")
    await exchange(tg, giang.id, lambda: giang.send_command("dangky"))
    await exchange(tg, giang.id, lambda: giang.press("reg:nocode"))
    (found,) = await exchange(tg, giang.id, lambda: giang.send_text("Hoàn Kiếm"))
    (phone,) = await exchange(tg, giang.id, lambda: giang.send_text("Giang"))
    ask_team, skip = await exchange(tg, giang.id, lambda: giang.send_text("0912 345 680"), count=2)  # typed
    assert tg.reply_keyboard(giang.id) is None
    (pending,) = await exchange(tg, giang.id, lambda: giang.press("reg:skip"))
    assert "điều phối viên" in pending.text
    request = (await tg.wait_calls("sendMessage", chat_id=coordinator.id))[-1]
    assert "Giang" in request.text and "0912 345 680" in request.text
    approve = data_starting(request, "vr:ok:")
    (approved,) = await exchange(tg, coordinator.id, lambda: coordinator.press(approve))
    assert "Giang" in approved.text
    notice = await tg.wait_for(
        lambda c: c.method == "sendMessage" and c.chat_id == giang.id and "Bạn đã được duyệt" in c.text
    )
    assert notice.callback_data()[0] == "visit"


async def test_permission_refusals(tg, polling_bot):
    service = polling_bot
    await grant(service, 7251, "volunteer", HOAN_KIEM)
    hoa, citizen = tg.user(7251), tg.user(7252)
    (menu,) = await exchange(tg, hoa.id, lambda: hoa.send_command("start"))
    assert {"visit", "vl", "vme"} <= set(menu.callback_data())
    # A forged button for another commune: refused, saying where this volunteer may log.
    forged = {
        "message_id": 1,
        "chat": {"id": hoa.id, "type": "private"},
        "date": 0,
        "text": "x",
        "reply_markup": {
            "inline_keyboard": [
                [
                    {"text": "x", "callback_data": f"visit:c:{CUA_NAM}"},
                    {"text": "y", "callback_data": f"co:h:{CUA_NAM}"},
                ]
            ]
        },
    }
    tg.messages.setdefault(hoa.id, []).append(forged)
    (answer,) = await exchange(tg, hoa.id, lambda: hoa.press(f"visit:c:{CUA_NAM}", message=forged))
    assert "Hoàn Kiếm" in answer.text and "Cửa Nam" in answer.text
    (answer,) = await exchange(tg, hoa.id, lambda: hoa.press(f"co:h:{CUA_NAM}", message=forged))
    assert "Cửa Nam" in answer.text
    (answer,) = await exchange(tg, citizen.id, lambda: citizen.send_command("ghinhan"))
    assert "/dangky" in answer.text and answer.callback_data()[0] == "reg:start"
    (menu,) = await exchange(tg, citizen.id, lambda: citizen.send_command("start"))
    assert menu.callback_data() == ["guide", "faq", "support", "install"]
    assert await visits_stored(service) == []
