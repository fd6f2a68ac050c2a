"""Proves the Telegram stand-in speaks the wire format of the real python-telegram-bot client."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import time

import aiohttp
import pytest
import telegram
from aiohttp import web
from PIL import Image
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import MessageEntityType
from telegram.error import BadRequest, Conflict, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.standins.telegram_api import TelegramStandin

TOKEN = "123:ABC"


@pytest.fixture
async def tg():
    async with TelegramStandin(token=TOKEN, username="bluezone_test_bot") as standin:
        yield standin


@pytest.fixture
async def bot(tg):
    async with telegram.Bot(TOKEN, base_url=tg.base_url, base_file_url=tg.base_file_url) as client:
        yield client


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(d.title(), callback_data=d) for d in data]])


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


# --- the real Bot client against the stand-in ---
# python-telegram-bot drops "Bad Request: " and capitalize()s error texts, so
# "Bad Request: IMAGE_PROCESS_FAILED" arrives as "Image_process_failed": match with (?i).


async def test_get_me_describes_the_bot(tg, bot):
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (123, "bluezone_test_bot", True)
    assert me.can_join_groups is True
    assert tg.calls[0].method == "getMe"  # Bot.initialize() asks first


async def test_send_message_echoes_inline_keyboard_and_parses_html(tg, bot):
    message = await bot.send_message(
        42, "Chào <b>bạn</b> &amp; nhà", parse_mode="HTML", reply_markup=keyboard("yes", "no")
    )
    assert message.text == "Chào bạn & nhà"
    assert message.entities[0].type == MessageEntityType.BOLD
    assert (message.entities[0].offset, message.entities[0].length) == (5, 3)
    assert [b.callback_data for b in message.reply_markup.inline_keyboard[0]] == ["yes", "no"]
    assert message.chat.id == 42 and message.chat.type == "private"
    assert message.from_user.id == 123

    [call] = tg.sent(chat_id=42)
    assert call.params["chat_id"] == 42
    assert call.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "yes"
    assert call.callback_data() == ["yes", "no"]
    assert tg.messages[42][0]["text"] == "Chào bạn & nhà"


async def test_texts_that_look_like_json_stay_strings(tg, bot):
    second = await bot.send_message(42, "123")
    third = await bot.send_message(42, "[1, 2]")
    assert [c.params["text"] for c in tg.sent(42)] == ["123", "[1, 2]"]
    assert (second.text, third.text) == ("123", "[1, 2]")
    assert (second.message_id, third.message_id) == (1, 2)  # ids count per chat


async def test_send_document_keeps_upload_and_serves_it_back(tg, bot):
    data = b"xa,so_may\nAn Khanh,12\n"
    message = await bot.send_document(42, data, filename="báo cáo.csv", caption="Số liệu")
    document = message.document
    assert document.file_name == "báo cáo.csv"
    assert (document.mime_type, document.file_size) == ("text/csv", len(data))
    assert message.caption == "Số liệu"

    upload = tg.sent(42)[0].file("document")
    assert (upload.filename, upload.data) == ("báo cáo.csv", data)

    downloaded = await (await bot.get_file(document.file_id)).download_as_bytearray()
    assert bytes(downloaded) == data
    again = await bot.send_document(43, document.file_id)  # re-send by file_id, no upload
    assert again.document.file_id == document.file_id and not tg.sent(43)[0].files


async def test_send_photo_reports_real_dimensions(tg, bot):
    image = png(640, 480)
    message = await bot.send_photo(42, image, caption="Mã QR", reply_markup=keyboard("print"))
    largest = message.photo[-1]
    assert (largest.width, largest.height) == (640, 480)
    assert [p.width for p in message.photo] == sorted(p.width for p in message.photo)
    assert message.reply_markup.inline_keyboard[0][0].callback_data == "print"
    assert tg.sent(42)[0].file("photo").data == image

    with pytest.raises(BadRequest, match="(?i)IMAGE_PROCESS_FAILED"):
        await bot.send_photo(42, b"not an image")


async def test_edit_message_text_follows_telegram_rules(tg, bot):
    question = "Bạn có bao nhiêu điện thoại?"
    sent = await bot.send_message(42, question, reply_markup=keyboard("one", "two"))
    edited = await bot.edit_message_text("Đã lưu: 2", chat_id=42, message_id=sent.message_id)
    assert edited.text == "Đã lưu: 2"
    assert edited.reply_markup is None  # no reply_markup on edit drops the keyboard
    assert tg.messages[42][0]["text"] == "Đã lưu: 2" and "reply_markup" not in tg.messages[42][0]

    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await bot.edit_message_text("Đã lưu: 2", chat_id=42, message_id=sent.message_id)
    with pytest.raises(BadRequest, match="(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=42, message_id=999)
    with pytest.raises(BadRequest, match="(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=7, message_id=sent.message_id)

    markup_only = await bot.edit_message_reply_markup(42, sent.message_id, reply_markup=keyboard("undo"))
    assert markup_only.reply_markup.inline_keyboard[0][0].callback_data == "undo"
    assert await bot.delete_message(42, sent.message_id) is True
    with pytest.raises(BadRequest, match="(?i)message to delete not found"):
        await bot.delete_message(42, sent.message_id)


async def test_bad_markup_is_refused_like_telegram(bot):
    with pytest.raises(BadRequest, match='(?i)can\'t parse entities: unsupported start tag "div"'):
        await bot.send_message(42, "<div>x</div>", parse_mode="HTML")
    with pytest.raises(BadRequest, match='(?i)can\'t find end tag corresponding to start tag "b"'):
        await bot.send_message(42, "<b>x", parse_mode="HTML")
    with pytest.raises(BadRequest, match="(?i)character '.' is reserved"):
        await bot.send_message(42, "Xong.", parse_mode="MarkdownV2")
    with pytest.raises(BadRequest, match="(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(42, "x", reply_markup=keyboard("x" * 65))
    with pytest.raises(BadRequest, match="(?i)message text is empty"):
        await bot.send_message(42, "   ")


async def test_injected_429_surfaces_as_retry_after(tg, bot, monkeypatch):
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # retry_after as timedelta, without a warning
    tg.fail_next("sendMessage", error_code=429, retry_after=7)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(42, "hello")
    assert caught.value.retry_after == dt.timedelta(seconds=7)
    assert tg.calls[-1].failed_with == 429
    assert "retry after 7" in tg.calls[-1].description

    await bot.send_message(42, "hello")  # only the next call failed
    assert [c.text for c in tg.sent(42)] == ["hello"]


async def test_other_injected_errors_map_to_library_exceptions(tg, bot):
    tg.fail_next("sendMessage", error_code=403, description="Forbidden: user is deactivated")
    tg.fail_next("sendMessage", error_code=502)
    tg.fail_next("sendMessage", error_code=400, description="Bad Request: chat not found", times=2)
    with pytest.raises(Forbidden, match="(?i)deactivated"):
        await bot.send_message(42, "a")
    with pytest.raises(NetworkError, match="(?i)bad gateway"):
        await bot.send_message(42, "b")
    for _ in range(2):
        with pytest.raises(BadRequest, match="(?i)chat not found"):
            await bot.send_message(42, "c")
    assert [c.failed_with for c in tg.calls_of("sendMessage")] == [403, 502, 400, 400]
    assert tg.sent() == []


async def test_blocked_user_surfaces_as_forbidden(tg, bot):
    tg.block(77)
    with pytest.raises(Forbidden, match="(?i)bot was blocked by the user"):
        await bot.send_message(77, "Chào")
    await bot.send_message(78, "Chào")  # other chats still work
    tg.unblock(77)
    await bot.send_message(77, "Chào lại")
    assert [c.chat_id for c in tg.sent()] == [78, 77]


async def test_delay_lets_the_client_time_out(tg, bot):
    tg.delay("sendMessage", 0.5)
    with pytest.raises(TimedOut):
        await bot.send_message(42, "slow", read_timeout=0.1)
    gave_up = await tg.wait_for(lambda c: c.method == "sendMessage", timeout=1.0)
    assert gave_up.failed_with == 499
    await bot.send_message(42, "fast")  # the delay was for one call only


async def test_a_late_answer_comes_after_the_call_was_carried_out(tg, bot):
    tg.delay("sendMessage", 0.5, after=True)
    with pytest.raises(TimedOut):
        await bot.send_message(42, "slow", read_timeout=0.1)
    gave_up = await tg.wait_for(lambda c: c.method == "sendMessage", timeout=1.0)
    assert gave_up.failed_with == 499  # the bot saw no answer...
    assert [m["text"] for m in tg.messages[42]] == ["slow"]  # ...but the message was sent


async def test_rate_limit_answers_429_beyond_the_window(monkeypatch):
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    async with TelegramStandin(TOKEN, max_per_second=3) as tg:
        async with telegram.Bot(TOKEN, base_url=tg.base_url) as client:
            for i in range(3):
                await client.send_message(42, f"m{i}")
            with pytest.raises(RetryAfter):
                await client.send_message(42, "one too many")
        assert len(tg.sent()) == 3
        assert tg.calls[-1].failed_with == 429


async def test_commands_and_callback_answers(tg, bot):
    await bot.set_my_commands([("start", "Bắt đầu"), ("help", "Trợ giúp")], language_code="vi")
    commands = await bot.get_my_commands(language_code="vi")
    assert [c.command for c in commands] == ["start", "help"]
    assert await bot.get_my_commands() == ()
    assert await bot.delete_my_commands(language_code="vi") is True

    with pytest.raises(BadRequest, match="(?i)query id is invalid"):
        await bot.answer_callback_query("nope")
    assert await bot.send_chat_action(42, "typing") is True
    assert await bot.close() is True and await bot.log_out() is True


# --- raw HTTP: routes, encodings, errors ---


async def test_routes_tokens_and_encodings(tg):
    api = f"{tg.base_url}{TOKEN}"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{tg.base_url}999:WRONG/getMe") as response:
            assert response.status == 401
            assert await response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
        async with http.post(f"{api}/frobnicate") as response:
            assert response.status == 404
            assert await response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
        async with http.get(f"{api}/GETME") as response:
            assert (await response.json())["result"]["id"] == 123

        markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
        body = {"chat_id": 5, "text": "json", "reply_markup": markup}
        async with http.post(f"{api}/sendMessage", json=body) as response:
            assert (await response.json())["result"]["reply_markup"] == markup
        markup_b = '{"inline_keyboard": [[{"text": "B", "callback_data": "b"}]]}'
        form = {"chat_id": "5", "text": "form", "reply_markup": markup_b}
        async with http.post(f"{api}/sendmessage", data=form) as response:
            assert (await response.json())["result"]["message_id"] == 2
        query = {"chat_id": "5", "text": "query"}
        async with http.get(f"{api}/sendMessage", params=query) as response:
            assert response.status == 200

    assert [(c.method, c.params.get("chat_id"), c.text) for c in tg.sent()] == [
        ("sendMessage", 5, "json"),
        ("sendMessage", 5, "form"),
        ("sendMessage", 5, "query"),
    ]
    assert tg.sent()[1].callback_data() == ["b"]
    assert [c.failed_with for c in tg.calls[:2]] == [401, 404]


# --- getUpdates long polling ---


async def test_get_updates_long_polls_and_confirms(tg, bot):
    lan = tg.user(1001, first_name="Lan")
    started = time.monotonic()
    assert await bot.get_updates(timeout=0) == ()
    assert time.monotonic() - started < 0.3  # timeout=0 answers at once

    asyncio.get_running_loop().call_later(0.1, lan.send_text, "xin chào")
    started = time.monotonic()
    [update] = await bot.get_updates(timeout=5)
    assert 0.05 < time.monotonic() - started < 0.9  # woke when the update arrived
    assert update.message.text == "xin chào" and update.message.chat.id == 1001

    [same] = await bot.get_updates(timeout=0)  # unconfirmed updates are served again
    assert same.update_id == update.update_id
    assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == ()
    assert tg.pending_updates == []


async def test_idle_waits_for_answers_and_updates_not_for_a_waiting_long_poll(tg, bot):
    """What `until_idle` in the end-to-end tests relies on: a slow answer keeps the stand-in busy,
    a long poll with nothing to fetch does not, and an update handed out stays busy until the
    next poll confirms it."""
    tg.poll_wait_cap = None
    polling = asyncio.create_task(bot.get_updates(timeout=5))
    tg.delay("sendMessage", 0.5)
    sending = asyncio.create_task(bot.send_message(42, "chậm"))
    started = time.monotonic()
    await tg.wait_idle(quiet=0.1, timeout=5)
    assert sending.done() and time.monotonic() - started >= 0.5  # waited for the slow answer...
    assert not polling.done()  # ...and not for the long poll

    tg.user(1002).send_text("xin chào")
    [update] = await polling
    with pytest.raises(AssertionError, match="not yet confirmed"):
        await tg.wait_idle(quiet=0.1, timeout=0.5)
    assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == ()
    await tg.wait_idle(quiet=0.1, timeout=5)


async def test_fake_user_builds_real_updates(tg, bot):
    lan = tg.user(1001, first_name="Lan", username="lan_hcm")
    raw = [
        lan.send_command("start", "poster_42"),
        lan.send_sticker(),
        lan.send_photo(320, 240, caption="ảnh"),
        lan.send_voice(),
        lan.send_location(10.77, 106.70),
        lan.send_contact("+84901234567"),
        lan.send_raw(
            {
                "my_chat_member": {
                    "chat": lan.chat(),
                    "from": lan.as_dict(),
                    "date": 0,
                    "old_chat_member": {"status": "member", "user": tg.bot_user},
                    "new_chat_member": {"status": "kicked", "user": tg.bot_user, "until_date": 0},
                }
            }
        ),
    ]
    updates = await bot.get_updates(timeout=0)
    assert [u.update_id for u in updates] == [r["update_id"] for r in raw]
    assert updates[0].message.text == "/start poster_42"
    assert updates[0].message.entities[0].type == MessageEntityType.BOT_COMMAND
    assert updates[0].message.from_user.username == "lan_hcm"
    assert updates[1].message.sticker.emoji == "👍"
    assert (updates[2].message.photo[-1].width, updates[2].message.caption) == (320, "ảnh")
    assert updates[3].message.voice.mime_type == "audio/ogg"
    assert updates[4].message.location.latitude == pytest.approx(10.77)
    assert updates[5].message.contact.user_id == 1001
    assert updates[6].my_chat_member.new_chat_member.status == "kicked"
    assert len({u.message.message_id for u in updates[:6]}) == 6

    photo_file = await bot.get_file(updates[2].message.photo[-1].file_id)
    assert bytes(await photo_file.download_as_bytearray())[:2] == b"\xff\xd8"  # a JPEG

    with pytest.raises(AssertionError, match="no message with an inline keyboard"):
        lan.press("anything")


async def test_wait_calls_explains_a_timeout(tg, bot):
    await bot.send_message(42, "only one")
    explained = r"expected 2 sendMessage call\(s\), got 1(.|\n)*'only one'"
    with pytest.raises(AssertionError, match=explained):
        await tg.wait_calls("sendMessage", 2, timeout=0.1)


# --- a python-telegram-bot Application polling the stand-in ---


async def start_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.message.reply_text("Bạn đã cài Bluezone chưa?", reply_markup=keyboard("yes", "no"))


async def answer_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    await query.answer("Cảm ơn!")
    await query.edit_message_text(f"Bạn chọn: {query.data}")


async def echo_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.message.reply_text(f"Bạn nói: {update.message.text}")


async def test_application_polling_handles_text_and_button(tg):
    application = ApplicationBuilder().token(TOKEN).base_url(tg.base_url).build()
    application.add_handler(CommandHandler("start", start_command))
    application.add_handler(CallbackQueryHandler(answer_button))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo_text))
    lan = tg.user(1001)

    await application.initialize()
    await application.start()
    await application.updater.start_polling(poll_interval=0, timeout=1)
    try:
        lan.send_command("start")
        [question] = await tg.wait_calls("sendMessage", 1, chat_id=lan.id)
        assert question.callback_data() == ["yes", "no"]

        press = lan.press("yes")
        [edit] = await tg.wait_calls("editMessageText", 1, chat_id=lan.id)
        assert edit.text == "Bạn chọn: yes"
        assert tg.callback_answers[press["callback_query"]["id"]]["text"] == "Cảm ơn!"

        lan.send_text("xin chào")
        await tg.wait_calls("sendMessage", 2, chat_id=lan.id)
        await tg.drain(timeout=2)
    finally:
        await application.updater.stop()
        await application.stop()
        await application.shutdown()

    assert [c.text for c in tg.sent(lan.id)] == [
        "Bạn đã cài Bluezone chưa?",
        "Bạn chọn: yes",
        "Bạn nói: xin chào",
    ]
    assert tg.messages[lan.id][0]["text"] == "Bạn chọn: yes"  # the store holds the edited text


# --- webhook delivery ---


async def test_webhook_retries_and_sends_the_secret(tg, bot, aiohttp_server):
    received = []

    async def webhook(request: web.Request) -> web.Response:
        secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
        received.append((secret, await request.json()))
        return web.Response(status=500 if len(received) == 1 else 200)

    app = web.Application()
    app.router.add_post("/hook", webhook)
    server = await aiohttp_server(app)

    await bot.set_webhook(str(server.make_url("/hook")), secret_token="s3cret-token")
    with pytest.raises(Conflict, match="(?i)webhook is active"):
        await bot.get_updates(timeout=0)

    update = tg.user(1001).send_text("chào")
    deliveries = await tg.deliver_pending(timeout=2)
    assert [(d.update_id, d.status, d.attempt) for d in deliveries] == [
        (update["update_id"], 500, 1),
        (update["update_id"], 200, 2),
    ]
    assert [secret for secret, _ in received] == ["s3cret-token", "s3cret-token"]
    assert received[-1][1] == update
    assert Update.de_json(received[-1][1], bot).message.text == "chào"

    info = await bot.get_webhook_info()
    assert info.pending_update_count == 0
    assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"

    await bot.delete_webhook()
    assert (await bot.get_webhook_info()).url == ""


async def test_webhook_keeps_order_within_a_chat(tg, bot, aiohttp_server):
    seen: list[tuple[int, str]] = []

    async def webhook(request: web.Request) -> web.Response:
        body = await request.json()
        await asyncio.sleep(0.02)  # overlapping deliveries would reorder a chat's messages
        seen.append((body["message"]["chat"]["id"], body["message"]["text"]))
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", webhook)
    server = await aiohttp_server(app)
    lan, minh = tg.user(1), tg.user(2, first_name="Minh")
    for i in range(3):
        lan.send_text(f"lan {i}")
        minh.send_text(f"minh {i}")

    await bot.set_webhook(str(server.make_url("/hook")))
    await tg.deliver_pending(timeout=2)
    assert [text for chat, text in seen if chat == 1] == ["lan 0", "lan 1", "lan 2"]
    assert [text for chat, text in seen if chat == 2] == ["minh 0", "minh 1", "minh 2"]
    assert all(d.status == 200 for d in tg.webhook_deliveries)


async def test_webhook_reply_runs_the_method(tg, bot, aiohttp_server):
    async def webhook(request: web.Request) -> web.Response:
        body = await request.json()
        chat_id = body["message"]["chat"]["id"]
        return web.json_response({"method": "sendMessage", "chat_id": chat_id, "text": "đã nhận"})

    app = web.Application()
    app.router.add_post("/hook", webhook)
    server = await aiohttp_server(app)
    await bot.set_webhook(str(server.make_url("/hook")))
    tg.user(1001).send_text("hi")
    [reply] = await tg.wait_calls("sendMessage", 1, chat_id=1001)
    assert reply.via_webhook_reply and reply.result["text"] == "đã nhận"


async def test_reply_keyboard_stays_until_removed(tg, bot):
    from telegram import KeyboardButton, ReplyKeyboardMarkup, ReplyKeyboardRemove

    user = tg.user(77)
    keyboard = ReplyKeyboardMarkup([[KeyboardButton("Gửi số", request_contact=True)]], one_time_keyboard=True)
    await bot.send_message(77, "Số điện thoại?", reply_markup=keyboard)
    shown = tg.reply_keyboard(77)
    assert shown["keyboard"][0][0]["request_contact"] is True and not shown["hidden"]
    user.send_contact("+84912345678")
    assert tg.reply_keyboard(77)["hidden"]  # one-time: hidden after use, still there
    await bot.send_message(77, "Tiếp", reply_markup=keyboard)
    await bot.send_message(77, "Cảm ơn", reply_markup=ReplyKeyboardRemove())
    assert tg.reply_keyboard(77) is None
    with pytest.raises(BadRequest):
        await bot.send_message(77, "x", reply_markup=ReplyKeyboardMarkup([[]]))
