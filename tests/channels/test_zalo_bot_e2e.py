"""End to end on the Zalo Bot Platform: long polling and webhooks against the stand-in, numbered
menus instead of buttons, photos fetched by the platform from our signed URLs."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import re
import time
from fractions import Fraction

import aiohttp
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from bot.channels.base import OutMessage
from bot.channels.zalo_bot import ZaloBotChannel
from bot.render import MAX_CHOICES, MORE, MORE_KEY, render_step
from handlers.types import Attachment, Button, Reply
from storage.figures import record_figure, set_target
from storage.models import Account, InboundEvent, OutboxMessage, ProcessedUpdate, SelfReportedInstall
from storage.support_points import import_csv
from tests.channels.conftest import bot_settings, until_idle
from tests.harness import grant_role
from tests.standins.zalo_common import free_port
from texts import t

# A numbered choice as common.numbered_option writes it ("{number}. {label}").
OPTION = re.compile(r"^(\d+)\. (.+)$", re.MULTILINE)


async def count(service, model, *where) -> int:
    async with service.sessions() as db:
        return await db.scalar(select(func.count()).select_from(model).where(*where))


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


async def test_numbered_menu_conversation_by_polling(zbot, polling_zalo_bot):
    service = polling_zalo_bot
    assert service.bot_handles() == {"zalo_bot": "bot.bluezone"}
    assert zbot.calls_of("deleteWebhook")  # polling and a webhook exclude each other
    async with service.sessions() as db, db.begin():
        await import_csv(db, "commune_code,name,address\n00070,Bưu điện Hoàn Kiếm,75 Đinh Tiên Hoàng\n")
    an = zbot.user("2468458835296197922", "An")

    (greeting,) = await zbot.exchange(an, "/start")
    assert "Bluezone" in greeting
    assert "1. 📲 Hướng dẫn cài đặt" in greeting and "4. ✅ Tôi đã cài đặt" in greeting
    assert "Gõ 1, 2, 3 hoặc 4 để chọn." in greeting

    (ask,) = await zbot.exchange(an, "3")  # the third option: support points near me
    assert "xã, phường" in ask
    (points,) = await zbot.exchange(an, "Hoan Kiem")
    assert "Bưu điện Hoàn Kiếm" in points and "75 Đinh Tiên Hoàng" in points

    await zbot.exchange(an, "/menu")
    (platforms,) = await zbot.exchange(an, "1")
    assert "1. " in platforms and "Android" in platforms
    (step,) = await zbot.exchange(an, "1")
    assert step.startswith("Bước 1/") and "play.google.com" in step  # the store link as a text line

    (answer,) = await zbot.exchange(an, "het pin thi sao")
    assert "pin" in answer.lower()

    (menu,) = await zbot.exchange(an, "/menu")
    (counted,) = await zbot.exchange(an, "4.")  # "4." and "4" both pick the fourth option
    assert "Hoàn Kiếm" in counted
    assert await count(service, SelfReportedInstall) == 1
    assert all(len(t) <= 2000 for t in an.texts())
    assert len(zbot.calls_of("getUpdates")) >= 10


async def test_media_and_unknown_updates_by_polling(zbot, polling_zalo_bot):
    service = polling_zalo_bot
    binh = zbot.user("1001", "Bình")
    before = len(binh.sent())
    binh.send_sticker()
    binh.send_image()
    await zbot.wait_until(lambda: len(binh.sent()) >= before + 2)
    assert all("Gõ 1, 2, 3 hoặc 4" in t for t in binh.texts())
    group = binh.update("message.text.received", text="/start")
    group["message"]["chat"]["chat_type"] = "GROUP"
    zbot.enqueue(group)
    zbot.enqueue(binh.update("message.reaction.received"))
    await zbot.wait_until(lambda: not zbot.pending)
    await until_idle(service, zbot)
    assert len(binh.sent()) == 2 and await count(service, ProcessedUpdate) == 2


async def test_webhook_mode(zbot, webhook_zalo_bot):
    service = webhook_zalo_bot
    (set_webhook,) = zbot.calls_of("setWebhook")
    url = f"{service.settings.public_base_url}/webhooks/zalo-bot"
    assert set_webhook.body == {"url": url, "secret_token": "zalo-bot-secret-for-tests"}
    chi = zbot.user("3001", "Chi")
    (greeting,) = await zbot.exchange(chi, "/start")
    assert "Gõ 1, 2, 3 hoặc 4" in greeting
    assert zbot.deliveries and all(d.status == 200 and d.seconds < 2 for d in zbot.deliveries)
    assert not zbot.calls_of("getUpdates")


async def test_webhook_refuses_a_wrong_or_missing_secret(zbot, webhook_zalo_bot):
    service = webhook_zalo_bot
    update = zbot.user("3002").update("message.text.received", text="/start")
    for secret in (None, "", "wrong-secret", "zalo-bot-secret-for-test"):
        delivery = await zbot.post_update(update, secret)
        assert delivery.status == 401
    assert await count(service, InboundEvent) == 0 and await count(service, Account) == 0
    async with aiohttp.ClientSession() as http:
        async with http.post(
            zbot.webhook_url, data=b"{oops", headers={"X-Bot-Api-Secret-Token": zbot.webhook_secret}
        ) as r:
            assert r.status == 400
        wrapped = {"ok": True, "result": update}  # the API-answer shape is accepted too
        async with http.post(
            zbot.webhook_url, json=wrapped, headers={"X-Bot-Api-Secret-Token": zbot.webhook_secret}
        ) as r:
            assert r.status == 200
    assert await count(service, InboundEvent) == 1  # stored when answered; handled right after


async def test_webhook_refuses_stale_updates_and_deep_json(zbot, webhook_zalo_bot):
    service = webhook_zalo_bot
    user = zbot.user("3004")
    for date in (1_600_000_000_000, int(time.time() * 1000) + 3_600_000):  # 2020, and an hour ahead
        update = user.update("message.text.received", text="/dacai", date=date)
        delivery = await zbot.post_update(update, zbot.webhook_secret)
        assert delivery.status == 200 and "stale" in delivery.body
    async with aiohttp.ClientSession() as http:
        deep = b'{"event_name": "message.text.received", "message": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
        async with http.post(zbot.webhook_url, data=deep, headers={"X-Bot-Api-Secret-Token": zbot.webhook_secret}) as r:
            assert r.status == 400
    assert await count(service, InboundEvent) == 0 and await count(service, Account) == 0


async def test_webhook_duplicate_is_answered_200_and_handled_once(zbot, webhook_zalo_bot):
    service = webhook_zalo_bot
    dung = zbot.user("3003")
    zbot.known_chats.add(dung.id)
    update = dung.update("message.text.received", text="/dacai")
    for _ in range(3):
        assert (await zbot.post_update(update, zbot.webhook_secret)).status == 200
    await service.courier.drain()
    await zbot.wait_until(lambda: dung.sent())
    await until_idle(service, zbot)
    assert len(dung.sent()) == 1
    assert await count(service, ProcessedUpdate, ProcessedUpdate.update_id == update["message"]["message_id"]) == 1


async def test_photos_go_by_signed_url_and_documents_as_links(zbot, polling_zalo_bot):
    channel = polling_zalo_bot.channels["zalo_bot"]
    em = zbot.user("4001")
    zbot.known_chats.add(em.id)
    image = png()
    await channel.send(
        em.id,
        OutMessage(text="Áp phích", key="k", attachment_kind="image", filename="poster.png", mime_type="image/png"),
        image,
    )
    (photo,) = zbot.calls_of("sendPhoto")
    assert photo.ok and photo.body["caption"] == "Áp phích"
    assert zbot.fetched[photo.body["photo"]] == image  # the platform downloaded it from us
    assert [c.body["action"] for c in zbot.calls_of("sendChatAction")] == ["upload_photo"]

    sheet = b"PK\x03\x04 xlsx bytes"
    await channel.send(
        em.id,
        OutMessage(
            text="Báo cáo tuần",
            key="k",
            attachment_kind="document",
            filename="bao-cao.xlsx",
            mime_type="application/vnd.ms-excel",
        ),
        sheet,
    )
    text = zbot.calls_of("sendMessage")[-1].body["text"]
    link, caption = text.split("\n")  # the file, its caption right under it
    assert link.startswith("bao-cao.xlsx: http") and caption == "Báo cáo tuần"
    async with aiohttp.ClientSession() as http, http.get(link.split(": ", 1)[1]) as response:
        assert response.status == 200 and await response.read() == sheet
        forged = link.split(": ", 1)[1].replace("&s=", "&s=0")
    async with aiohttp.ClientSession() as http, http.get(forged) as response:
        assert response.status == 403


async def test_rate_limit_is_retried_and_a_block_stops_sending(zbot, polling_zalo_bot):
    service = polling_zalo_bot
    giang = zbot.user("5001")
    zbot.fail_next(
        "sendMessage",
        status=429,
        ok=False,
        error_code=429,
        description="Too Many Requests",
        parameters={"retry_after": 1},
    )
    (greeting,) = await zbot.exchange(giang, "/start")
    assert [c.status for c in zbot.calls_of("sendMessage")] == [429, 200]

    zbot.blocked.add(giang.id)
    giang.send_text("/menu")
    await zbot.wait_until(lambda: any(c.status == 403 for c in zbot.calls_of("sendMessage")))
    for _ in range(100):
        async with service.sessions() as db:
            account = (await db.scalars(select(Account).where(Account.external_id == giang.id))).one()
        if account.blocked_at is not None:
            break
        await asyncio.sleep(0.02)
    assert account.blocked_at is not None
    assert await count(service, OutboxMessage, OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None)) == 0


async def test_server_errors_are_retried_and_the_answer_arrives_once(zbot, polling_zalo_bot):
    service = polling_zalo_bot
    hieu = zbot.user("5002")
    zbot.fail_next("sendMessage", status=502, times=2, ok=False, error_code=502, description="Bad Gateway")
    (greeting,) = await zbot.exchange(hieu, "/start")
    assert "Bluezone" in greeting
    assert [c.status for c in zbot.calls_of("sendMessage")] == [502, 502, 200]
    assert len(hieu.texts()) == 1  # retried with back-off (1 s, then 2 s), delivered once
    for _ in range(250):  # marked sent just after the platform's answer
        if await count(service, OutboxMessage, OutboxMessage.sent_at.is_not(None)) == 1:
            break
        await asyncio.sleep(0.02)
    assert await count(service, OutboxMessage, OutboxMessage.sent_at.is_not(None)) == 1


async def test_a_polled_update_survives_a_database_outage(zbot):
    """Polling confirms an update by fetching it; a database outage is waited out, not dropped."""

    settings = bot_settings(zbot, {"url": "sqlite:///:memory:"}, free_port(), webhook=False)
    got: list = []
    failures = iter([True, False])

    async def receive(incoming):
        if next(failures):
            raise OperationalError("INSERT", {}, ConnectionRefusedError("database down"))
        got.append(incoming)

    channel = ZaloBotChannel(settings, receive, media=None, poll_timeout=1)  # type: ignore[arg-type]
    await channel.start()
    try:
        zbot.user("6001").send_text("xin chào")
        for _ in range(300):
            if got:
                break
            await asyncio.sleep(0.01)
    finally:
        await channel.stop()
    assert [i.text for i in got] == ["xin chào"]


async def test_a_volunteer_logs_visits_by_numbered_menu(zbot, polling_zalo_bot):
    """No buttons on the Bot Platform: the volunteer answers by typing numbers and counts, and the
    one-line shorthand works as on Telegram."""
    from storage.models import CommuneDailyCount, Visit
    from tests.harness import grant_role

    service = polling_zalo_bot
    await grant_role(service, "5566778899", "volunteer", "00070", channel="zalo_bot")
    hoa = zbot.user("5566778899", "Hoa")

    (ask,) = await zbot.exchange(hoa, "/ghinhan")
    assert "Thôn, ấp" in ask
    (household,) = await zbot.exchange(hoa, "Thôn 3")
    assert household.startswith("Thôn 3: số nhà") and "gõ “bỏ qua”" in household
    (outcome,) = await zbot.exchange(hoa, "số 12")
    numbered = service.content.render(t("common.numbered_range", first=1, last=6))
    assert "1. " in outcome and "5. " in outcome and numbered in outcome  # the outcomes as a numbered menu
    (phones,) = await zbot.exchange(hoa, "1")  # helped install
    assert "mấy điện thoại" in phones
    (installed,) = await zbot.exchange(hoa, "25")  # out of bounds: said why, asked again
    assert "mấy điện thoại" in installed
    await zbot.exchange(hoa, "3")
    await zbot.exchange(hoa, "2")  # installed now with help
    (summary,) = await zbot.exchange(hoa, "1")  # already had it
    assert "Thôn 3" in summary and "cài giúp: 2" in summary and "1. 💾 Lưu" in summary
    (saved,) = await zbot.exchange(hoa, "1")
    assert saved.startswith("✅ Đã lưu.")

    (summary,) = await zbot.exchange(hoa, "to 5 so 7 3 may cai 1 san 2")
    assert "Tổ dân phố 5" in summary and "cài giúp: 1" in summary
    (saved,) = await zbot.exchange(hoa, "1")
    assert saved.startswith("✅ Đã lưu.")
    (again,) = await zbot.exchange(hoa, "1")  # the same number once more: no second visit
    assert not again.startswith("✅ Đã lưu.")

    async with service.sessions() as db:
        visits = (await db.scalars(select(Visit).order_by(Visit.id))).all()
        counts = (await db.scalars(select(CommuneDailyCount).where(CommuneDailyCount.commune_code == "00070"))).all()
    assert [
        (v.hamlet, v.household, v.outcome, v.smartphones, v.installed_now, v.already_installed) for v in visits
    ] == [("Thôn 3", "12", "helped", 3, 2, 1), ("Tổ dân phố 5", "7", "helped", 3, 1, 2)]
    assert sum(c.households_visited for c in counts) == 2 and sum(c.installs_helped for c in counts) == 3
    assert all(len(t) <= 2000 for t in hoa.texts())


async def test_a_province_officer_pages_through_the_summary_choices(zbot, polling_zalo_bot):
    """The province /thongke has more choices than a message takes: eight, then "0" for the
    rest, each typed number as shown, none numbered twice."""
    service = polling_zalo_bot
    async with service.sessions() as db, db.begin():
        yesterday = dt.date.today() - dt.timedelta(days=1)
        await record_figure(db, "07210", yesterday, entered_by=None, source="t", installed=9, subscribers=20)
        # A target: the communes short of it are offered to drill into, more choices than fit.
        await set_target(db, "24", Fraction(3, 5), yesterday + dt.timedelta(days=90), set_by=None, source="t")
    officer = zbot.user("6001", "Ha")
    await grant_role(service, officer.id, "province_officer", "24", channel="zalo_bot")
    (summary,) = await zbot.exchange(officer, "/thongke")
    first = dict(OPTION.findall(summary.split("\n\n")[-1]))  # the choices end the summary
    assert len(first) == MAX_CHOICES + 1 and first[str(MORE)] == service.content.render(t(MORE_KEY))
    assert not any(OPTION.match(label) for label in first.values())
    (more,) = await zbot.exchange(officer, str(MORE))
    rest = dict(OPTION.findall(more))
    assert rest and min(int(n) for n in rest) == MAX_CHOICES + 1
    other = next(n for n, label in rest.items() if label == service.content.render(t("official.other_commune")))
    (ask,) = await zbot.exchange(officer, other)
    assert ask.startswith(service.content.render(t("official.ask_commune")))


async def test_a_file_goes_with_its_caption_and_choices_in_one_message(zbot, polling_zalo_bot):
    """A photo's caption holds its words and the choices standing for its buttons: one sendPhoto."""
    service = polling_zalo_bot
    channel = service.channels["zalo_bot"]
    em = zbot.user("6002")
    zbot.known_chats.add(em.id)
    picture = Attachment("image", "chart.png", png(), "image/png", caption=t("official.chart_caption"))
    reply = Reply("common.file_only", [[Button(t("common.home"), payload="menu")]], attachment=picture)
    rendered, menu = render_step((reply,), service.content, channel.capabilities, None)
    for r in rendered:
        await channel.send(em.id, r.message, r.attachment)
    (photo,) = zbot.sent(em.id)
    assert photo.path == "sendPhoto" and menu is not None and menu.choices == {1: "menu"}
    caption, choices = photo.body["caption"].split("\n\n")
    assert caption == service.content.render(t("official.chart_caption"))
    assert choices.splitlines()[0] == service.content.render(
        t("common.numbered_option", number=1, label=t("common.home"))
    )


async def test_sends_take_their_turn_in_the_shared_budget(zbot):
    """ZALO_MAX_PER_SECOND: every message to a chat waits for its turn in the budget the workers
    share (bot/coordination.py); other calls (getMe, the poll) do not."""
    settings = bot_settings(zbot, {"url": "sqlite:///:memory:"}, free_port(), webhook=False)
    turns: list[str] = []

    class Budget:
        async def acquire(self) -> None:
            turns.append("turn")

    channel = ZaloBotChannel(settings, receive=None, media=None, budget=Budget())  # type: ignore[arg-type]
    zbot.known_chats.add("6002")  # someone who wrote to the bot: it may answer them
    try:
        await channel.call("getMe")
        await channel.send("6002", OutMessage(text="xin chào", key="k"), None)
    finally:
        await channel.stop()
    assert turns == ["turn"] and zbot.calls_of("sendMessage")
