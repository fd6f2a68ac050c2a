"""End to end on a Zalo Official Account: signed webhook events from the stand-in into the real
web server, replies on the stand-in's OpenAPI, and the rows in the database."""

from __future__ import annotations

import asyncio
import io
import json
import os
import time

import aiohttp
import pytest
from PIL import Image
from sqlalchemy import func, select

from bot.channels.base import OutMessage
from storage.models import Account, InboundEvent, OutboxMessage, ProcessedUpdate, SelfReportedInstall, ZaloOaToken
from storage.support_points import import_csv
from tests.standins.zalo_oa_api import SEND, UPLOAD_FILE, UPLOAD_IMAGE, sign
from texts import t

MENU = ["btn:guide", "btn:faq", "btn:support", "btn:install"]


def payloads(message: dict) -> list[str]:
    buttons = ((message.get("attachment") or {}).get("payload") or {}).get("buttons") or []
    return [b["payload"] for b in buttons if b["type"] == "oa.query.hide"]


def urls(message: dict) -> list[str]:
    buttons = ((message.get("attachment") or {}).get("payload") or {}).get("buttons") or []
    return [b["payload"]["url"] for b in buttons if b["type"] == "oa.open.url"]


async def count(service, model, *where) -> int:
    async with service.sessions() as db:
        return await db.scalar(select(func.count()).select_from(model).where(*where))


def png(width: int = 64, height: int = 64, noise: bool = False) -> bytes:
    image = Image.new("RGB", (width, height), (20, 120, 200))
    if noise:
        image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


async def test_whole_conversation_guide_faq_support_install(oa, oa_bot):
    service = oa_bot
    assert service.bot_handles() == {"zalo_oa": oa.oa_id}  # for "chat with us on Zalo" links
    async with service.sessions() as db, db.begin():
        await import_csv(db, "commune_code,name,address\n00070,Bưu điện Hoàn Kiếm,75 Đinh Tiên Hoàng\n")
    lan = oa.user("5510185758261927916")

    (greeting,) = await oa.exchange(lan.follow(), lan)
    assert "Bluezone" in greeting["text"]
    assert payloads(greeting) == MENU  # four buttons: within the OA's five, so a button template

    await oa.exchange(lan.press("btn:guide"), lan)
    (step,) = await oa.exchange(lan.press("btn:guide:android"), lan)
    assert step["text"].startswith("Bước 1/")
    assert any("play.google.com" in u for u in urls(step))  # the store link as oa.open.url

    (answer,) = await oa.exchange(lan.send_text("het pin thi sao"), lan)
    assert "pin" in answer["text"].lower()

    await oa.exchange(lan.press("btn:menu"), lan)
    await oa.exchange(lan.press("btn:support"), lan)
    (points,) = await oa.exchange(lan.send_text("Hoan Kiem"), lan)
    assert "Bưu điện Hoàn Kiếm" in points["text"]

    await oa.exchange(lan.press("🏠 Menu chính"), lan)  # by its title, as a person taps it
    (counted,) = await oa.exchange(lan.press("btn:install"), lan)
    assert "Hoàn Kiếm" in counted["text"]
    async with service.sessions() as db:
        (install,) = (await db.scalars(select(SelfReportedInstall))).all()
        assert install.commune_code == "00070"
        (zalo,) = (await db.scalars(select(Account).where(Account.channel == "zalo_oa"))).all()
        assert zalo.external_id == lan.id and zalo.chat_id == lan.id and zalo.user_id == install.user_id
    # Every event was answered well within Zalo's 2 seconds.
    assert all(d.status == 200 and d.seconds < 2 for d in oa.deliveries)
    # One OAuth call: the seeded refresh token bought the first access token, used since.
    assert len(oa.oauth_calls()) == 1 and oa.reused == []


async def test_more_buttons_than_a_template_takes_become_a_numbered_list(oa, oa_bot):
    duc = oa.user("7001")
    await oa.exchange(duc.follow(), duc)
    await oa.exchange(duc.press("btn:support"), duc)
    (choices,) = await oa.exchange(duc.send_text("Tân Phú"), duc)
    # Communes and the home button: more than 5, so a numbered list, no template; 7 communes, so
    # that the home choice is on the same message (at most 8 numbers a message).
    assert "attachment" not in choices
    content = oa_bot.content
    assert "1. " in choices["text"] and content.render(t("common.numbered_range", first=1, last=8)) in choices["text"]
    assert content.render(t("common.numbered_option", number=0, label=t("common.more_choices"))) not in choices["text"]
    (picked,) = await oa.exchange(duc.send_text("1"), duc)
    assert "Tân Phú" in picked["text"]
    assert payloads(picked)  # back to buttons where they fit


async def test_duplicate_event_answers_200_and_does_nothing(oa, oa_bot):
    service = oa_bot
    vy = oa.user("7002")
    await oa.exchange(vy.follow(), vy)
    event = vy.text_event("/dacai")
    assert (await oa.deliver(event)).status == 200
    await oa.wait_messages(vy.id, 2)
    for _ in range(3):  # Zalo retrying an event it thinks failed
        again = await oa.deliver(event)
        assert again.status == 200
    await service.courier.drain()
    assert len(vy.messages()) == 2  # the greeting and one answer
    msg_id = event["message"]["msg_id"]
    assert await count(service, InboundEvent, InboundEvent.update_id == msg_id) == 1
    assert await count(service, ProcessedUpdate, ProcessedUpdate.update_id == msg_id) == 1


@pytest.mark.parametrize("header", [None, "", "0" * 64, "mac=" + "f" * 64])
async def test_wrong_or_missing_signature_is_refused_and_nothing_processed(oa, oa_bot, header):
    service = oa_bot
    event = oa.user("7003").text_event("/start")
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["X-ZEvent-Signature"] = header
    delivery = await oa.post_webhook(event, json.dumps(event).encode(), headers)
    assert delivery.status == 401
    assert await count(service, InboundEvent) == 0 and await count(service, Account) == 0


async def test_a_signature_for_another_body_is_refused(oa, oa_bot):
    service = oa_bot
    event = oa.user("7004").text_event("/start")
    signed = json.dumps(event).encode()
    tampered = json.dumps({**event, "message": {**event["message"], "text": "/dacai"}}).encode()
    mac = sign(oa.app_id, signed, event["timestamp"], oa.oa_secret_key)
    delivery = await oa.post_webhook(event, tampered, {"X-ZEvent-Signature": mac})
    assert delivery.status == 401
    assert await count(service, InboundEvent) == 0


async def test_signature_written_as_mac_prefix_is_accepted(oa, oa_bot):
    oa.sign_with_prefix = True
    nam = oa.user("7005")
    (greeting,) = await oa.exchange(nam.send_text("/start"), nam)
    assert payloads(greeting) == MENU


async def test_a_signed_but_stale_event_is_answered_and_not_handled(oa, oa_bot, caplog):
    """A correctly signed event from 2020, or one replayed after its processed mark was purged (7
    days), or dated ahead of our clock: answered 200 so Zalo does not retry, handled not at all."""
    service = oa_bot
    user = oa.user("7010")
    now_ms = int(time.time() * 1000)
    for moment in (1_600_000_000_000, now_ms - 8 * 86_400_000, now_ms - 25 * 3_600_000, now_ms + 3_600_000):
        event = user._event("user_send_text", {"text": f"CHECKIN ABCDEF{moment % 10}"}, timestamp=str(moment))
        delivery = await oa.deliver(event)
        assert delivery.status == 200 and "stale" in delivery.body, delivery.body
    assert await count(service, InboundEvent) == 0 and await count(service, Account) == 0
    assert "Traceback" not in caplog.text  # one line at most (bot.untrusted.Throttled), no traceback
    recent = user._event("user_send_text", {"text": "/start"}, timestamp=str(now_ms - 11 * 3_600_000))
    assert (await oa.deliver(recent)).status == 200  # Zalo retries for 12 hours: still handled
    await oa.wait_messages(user.id, 1)


async def test_malformed_json_and_unknown_events(oa, oa_bot):
    service = oa_bot
    # Unsigned junk is refused before it is parsed; signed junk (the signature checked on the
    # raw bytes and the timestamp found in them) is refused as unreadable, deep nesting too.
    delivery = await oa.post_webhook({}, b"{not json", {"X-ZEvent-Signature": "a" * 64})
    assert delivery.status == 401
    now = str(int(time.time() * 1000))
    for body in (
        b'{"timestamp": "' + now.encode() + b'", not json',
        b'{"timestamp": ' + now.encode() + b', "x": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
        b'[{"timestamp": "' + now.encode() + b'"}]',
    ):
        mac = sign(oa.app_id, body, now, oa.oa_secret_key)
        assert (await oa.post_webhook({}, body, {"X-ZEvent-Signature": mac})).status == 400
    user = oa.user("7006")
    for name in ("user_seen_message", "oa_send_text", "add_user_to_tag", "something_new"):
        event = user._event(name, {"text": "x"})
        assert (await oa.deliver(event)).status == 200
    assert await count(service, InboundEvent) == 0 and await count(service, Account) == 0
    assert oa.sends() == []


async def test_media_location_and_unfollow(oa, oa_bot):
    service = oa_bot
    hoa = oa.user("7007")
    (reply,) = await oa.exchange(hoa.send_sticker(), hoa)
    assert payloads(reply) == MENU  # a sticker gets the help line and the menu
    (reply,) = await oa.exchange(hoa.send_location(21.0285, 105.8542), hoa)
    assert payloads(reply) == MENU
    assert (await hoa.unfollow()).status == 200
    async with service.sessions() as db:
        account = (await db.scalars(select(Account).where(Account.external_id == hoa.id))).one()
        assert account.blocked_at is not None
    await oa.exchange(hoa.follow(), hoa)  # writing (following) again lifts it
    async with service.sessions() as db:
        account = (await db.scalars(select(Account).where(Account.external_id == hoa.id))).one()
        assert account.blocked_at is None


async def test_expired_token_is_refreshed_and_the_message_resent(oa, oa_bot):
    service = oa_bot
    mai = oa.user("7008")
    await oa.exchange(mai.follow(), mai)
    assert len(oa.oauth_calls()) == 1
    oa.expire_access_tokens()  # Zalo invalidates the token before its expiry
    (answer,) = await oa.exchange(mai.send_text("/menu"), mai)
    assert payloads(answer) == MENU
    rejected = [c for c in oa.calls if c.path == SEND and c.answer and c.answer.get("error") == -216]
    assert len(rejected) == 1 and len(oa.oauth_calls()) == 2 and oa.reused == []
    async with service.sessions() as db:
        row = (await db.scalars(select(ZaloOaToken))).one()
        assert row.refresh_token in oa.refresh_tokens  # the stored one is the unspent one


async def test_token_is_refreshed_ahead_of_expiry(oa, oa_bot):
    oa.access_token_ttl = 20 * 60  # the first token expires in 20 minutes: inside the margin
    tam = oa.user("7009")
    await oa.exchange(tam.follow(), tam)
    oa.access_token_ttl = 90000
    await oa.exchange(tam.send_text("/menu"), tam)
    assert len(oa.oauth_calls()) == 2  # refreshed before sending, not after a refusal
    assert not [c for c in oa.calls if c.answer and c.answer.get("error") == -216]


@pytest.mark.parametrize(
    "fault",
    [dict(error=-32, message="Exceed rate limit"), dict(status=502, error=-1, message="Bad Gateway")],
    ids=["rate-limit", "5xx"],
)
async def test_rate_limit_and_server_errors_are_retried(oa, oa_bot, fault):
    service = oa_bot
    kim = oa.user("7010")
    oa.fail_next(SEND, **fault)
    (greeting,) = await oa.exchange(kim.follow(), kim)
    assert payloads(greeting) == MENU
    assert [c.ok for c in oa.calls if c.path == SEND] == [False, True]  # refused once, then sent once

    for _ in range(200):  # the courier marks the row sent right after the call returns
        if await count(service, OutboxMessage, OutboxMessage.sent_at.is_(None)) == 0:
            break
        await asyncio.sleep(0.01)
    assert await count(service, OutboxMessage, OutboxMessage.sent_at.is_(None)) == 0


async def test_images_are_uploaded_then_attached(oa, oa_bot):
    channel = oa_bot.channels["zalo_oa"]
    user = oa.user("7011")
    await oa.exchange(user.follow(), user)
    image = png()
    await channel.send(
        user.id,
        OutMessage(text="Biểu đồ", key="k", attachment_kind="image", filename="chart.png", mime_type="image/png"),
        image,
    )
    (upload,) = [c for c in oa.calls if c.path == UPLOAD_IMAGE]
    assert upload.files["file"][2] == image and upload.files["file"][1] == "image/png"
    media = user.messages()[-1]
    (element,) = media["attachment"]["payload"]["elements"]
    assert media["text"] == "Biểu đồ" and element["attachment_id"] == upload.answer["data"]["attachment_id"]
    assert oa.uploads[element["attachment_id"]][1] == image


async def test_big_images_and_other_files_are_served_from_signed_urls(oa, oa_bot):
    channel = oa_bot.channels["zalo_oa"]
    user = oa.user("7012")
    await oa.exchange(user.follow(), user)
    big = png(700, 700, noise=True)
    assert len(big) > 1024 * 1024  # over the OA's upload limit
    await channel.send(
        user.id,
        OutMessage(text="", key="k", attachment_kind="image", filename="poster.png", mime_type="image/png"),
        big,
    )
    (element,) = user.messages()[-1]["attachment"]["payload"]["elements"]
    assert oa.fetched[element["url"]] == big  # Zalo fetched it from our server

    pdf = b"%PDF-1.7\n" + b"0" * 2000
    await channel.send(
        user.id,
        OutMessage(
            text="Áp phích", key="k", attachment_kind="document", filename="poster.pdf", mime_type="application/pdf"
        ),
        pdf,
    )
    assert [c for c in oa.calls if c.path == UPLOAD_FILE]
    caption, file_message = user.messages()[-2:]
    assert caption["text"] == "Áp phích" and oa.uploads[file_message["attachment"]["payload"]["token"]][1] == pdf

    xlsx = b"PK\x03\x04 spreadsheet"
    await channel.send(
        user.id,
        OutMessage(
            text="Báo cáo",
            key="k",
            attachment_kind="document",
            filename="bao-cao.xlsx",
            mime_type="application/vnd.ms-excel",
        ),
        xlsx,
    )
    link = user.messages()[-1]["text"].split(": ", 1)[1]
    async with aiohttp.ClientSession() as http, http.get(link) as response:
        assert response.status == 200 and await response.read() == xlsx


async def test_replies_beyond_the_free_window_are_dropped_not_retried(oa, oa_bot):
    from bot.channels.base import SendBlocked, SendFailed

    channel = oa_bot.channels["zalo_oa"]
    user = oa.user("7013")
    await oa.exchange(user.follow(), user)  # one reply used
    oa.replies_per_window = 1
    with pytest.raises(SendFailed):  # that message is dropped; the person is not marked blocked
        await channel.send(user.id, OutMessage(text="một tin nữa", key="k"), None)
    oa.last_user_message[user.id] -= 49 * 3600  # 49 hours since the person last wrote
    with pytest.raises(SendBlocked):  # unreachable until they write again
        await channel.send(user.id, OutMessage(text="sau 49 giờ", key="k"), None)


async def test_check_in_by_the_manual_code(oa, oa_bot):
    """Zalo has no start parameter: the visitor types the poster's code, as on Telegram."""
    from storage.models import CheckIn, CommuneDailyCount
    from storage.venues import create_venue

    service = oa_bot
    async with service.sessions() as db, db.begin():
        venue = await create_venue(db, name="Chợ Hàng Da", kind="market", commune_code="00070", address="Phố Hàng Da")
    mai = oa.user("8800112233")
    (thanks,) = await oa.exchange(mai.send_text(f"checkin {venue.code.lower()}"), mai)
    assert "Chợ Hàng Da" in thanks["text"] and "Bluezone" in thanks["text"]
    assert [p.rsplit(":", 1)[0] for p in payloads(thanks)] == ["btn:ci:y", "btn:ci:n"]  # the install question
    (glad,) = await oa.exchange(mai.press("✅ Đã cài"), mai)
    assert "Bluetooth" in glad["text"]
    (again,) = await oa.exchange(mai.send_text(f"CHECKIN {venue.code}"), mai)
    assert "không cần check-in lại" in again["text"]
    (unknown,) = await oa.exchange(mai.send_text("CHECKIN ZZZZZZ"), mai)
    assert "không đúng" in unknown["text"] and "gõ lại" in unknown["text"]  # what to do next
    async with service.sessions() as db:
        (check_in,) = (await db.scalars(select(CheckIn))).all()
        (account,) = (await db.scalars(select(Account).where(Account.external_id == mai.id))).all()
        counts = (await db.scalars(select(CommuneDailyCount).where(CommuneDailyCount.commune_code == "00070"))).all()
    assert (check_in.venue_id, check_in.channel, check_in.already_installed) == (venue.id, "zalo_oa", True)
    assert check_in.visitor == f"u:{account.user_id}"
    assert (sum(c.checkins for c in counts), sum(c.checkins_already_installed for c in counts)) == (1, 1)
