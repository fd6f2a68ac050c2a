"""End to end on Telegram: the real python-telegram-bot client against the Bot API stand-in,
in polling and in webhook mode, checking the wire and what was stored."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
from collections import Counter
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from bot.service import Service
from bot.settings import Secret, Settings
from bot.web import init_app
from storage.models import OutboxMessage, SelfReportedInstall
from storage.support_points import import_csv
from tests.channels.conftest import until_idle
from tests.harness import words_by_label
from tests.standins.telegram_api import TelegramStandin

TOKEN = "123456:TEST-token-for-the-stand-in"


async def exchange(tg: TelegramStandin, chat_id: int, action, count: int = 1):
    """Do `action` (a user's message) and return the bot's next `count` sending calls to that chat."""
    before = len(tg.sent(chat_id))
    action()
    calls = await tg.wait_calls_since(chat_id, before, count) if hasattr(tg, "wait_calls_since") else None
    if calls is None:
        deadline = asyncio.get_running_loop().time() + 10
        while len(tg.sent(chat_id)) < before + count:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no reply to chat {chat_id}\n{tg.describe_calls()}")
            await asyncio.sleep(0.01)
        calls = tg.sent(chat_id)[before : before + count]
    return calls


@pytest.fixture
async def tg():
    async with TelegramStandin(token=TOKEN, username="bluezone_test_bot") as standin:
        yield standin


@contextlib.asynccontextmanager
async def polling_service(tg: TelegramStandin, database: dict, db_engine, **extra) -> AsyncIterator[Service]:
    """The service polling the stand-in; `extra` settings on top of the defaults."""
    settings = Settings(
        database_url=database["url"],
        telegram_bot_token=Secret(TOKEN),
        telegram_api_base_url=tg.base_url,
        **extra,
    )
    service = Service(settings, db_engine=db_engine)
    service.configure_channels()
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


@pytest.fixture
async def polling_bot(tg, database, db_engine):
    async with polling_service(tg, database, db_engine) as service:
        yield service


async def test_polling_conversation(tg, polling_bot):
    service = polling_bot
    assert service.bot_handles() == {"telegram": "bluezone_test_bot"}
    lan = tg.user(7001, first_name="Lan")

    # /start: greeting and the menu as an inline keyboard.
    (greeting,) = await exchange(tg, lan.id, lambda: lan.send_command("start"))
    assert greeting.method == "sendMessage"
    assert "Bluezone" in greeting.text
    assert greeting.callback_data() == ["guide", "faq", "support", "install"]

    # The Android guide, to its last step, by pressing the buttons the bot sent.
    await exchange(tg, lan.id, lambda: lan.press("guide"))
    (screen,) = await exchange(tg, lan.id, lambda: lan.press("guide:android"))
    assert screen.method == "editMessageText"  # the same message, turned into step 1
    total = int(screen.text.split("/", 1)[1].split(" ", 1)[0])
    assert any("play.google.com" in b.get("url", "") for b in screen.buttons())
    for i in range(1, total):
        (screen,) = await exchange(tg, lan.id, lambda i=i: lan.press(f"guide:android:{i}"))
        assert screen.text.startswith(f"Bước {i + 1}/{total}")
    assert "install" in screen.callback_data()
    assert len(tg.messages[lan.id]) == 1  # the menu message, turned into the guide and edited in place
    await tg.wait_for(lambda c: c.method == "answerCallbackQuery")

    # A question typed in free text, without accents.
    (answer,) = await exchange(tg, lan.id, lambda: lan.send_text("het pin thi sao"))
    assert "pin" in answer.text and "10%" in answer.text


async def test_polling_support_points_and_install_counted_once(tg, polling_bot):
    service = polling_bot
    async with service.sessions() as db, db.begin():
        await import_csv(
            db,
            "commune_code,name,address,opening_hours,phone\n"
            "00070,Bưu điện Hoàn Kiếm,75 Đinh Tiên Hoàng,7:00–19:00,02438255555\n",
        )
    minh = tg.user(7002, first_name="Minh")
    await exchange(tg, minh.id, lambda: minh.send_command("start"))
    (ask,) = await exchange(tg, minh.id, lambda: minh.press("support"))
    (choices,) = await exchange(tg, minh.id, lambda: minh.send_text("Hoan Kiem"))
    assert "Bưu điện Hoàn Kiếm" in choices.text and "75 Đinh Tiên Hoàng" in choices.text

    (thanks,) = await exchange(tg, minh.id, lambda: minh.send_command("dacai"))
    assert "Hoàn Kiếm" in thanks.text
    (again,) = await exchange(tg, minh.id, lambda: minh.press("install"))  # on the greeting's menu
    assert "một lần" in again.text
    async with service.sessions() as db:
        assert await db.scalar(select(func.count()).select_from(SelfReportedInstall)) == 1
        assert (await db.scalars(select(SelfReportedInstall.commune_code))).all() == ["00070"]


async def test_polling_media_and_unknown_buttons(tg, polling_bot):
    hoa = tg.user(7003)
    for action in (hoa.send_sticker, hoa.send_photo, hoa.send_voice, lambda: hoa.send_text("😀")):
        (reply,) = await exchange(tg, hoa.id, action)
        assert reply.callback_data() == ["guide", "faq", "support", "install"]
    # A button from a message the bot never sent in this form (forged / old keyboards).
    old = {
        "message_id": 1,
        "chat": {"id": hoa.id, "type": "private"},
        "date": 0,
        "text": "old",
        "reply_markup": {"inline_keyboard": [[{"text": "x", "callback_data": "vaccine:old"}]]},
    }
    tg.messages.setdefault(hoa.id, []).append(old)
    (reply,) = await exchange(tg, hoa.id, lambda: hoa.press("vaccine:old", message=old))
    assert "cũ" in reply.text


SEND_TIMEOUT = 0.5  # TELEGRAM_SEND_TIMEOUT in the fault tests: a slower answer is a time-out

# How the first attempts at sendMessage fail: the fault, the answers the stand-in records for
# them (499: the client gave up waiting), the least pause before each retry (Telegram's
# retry_after; else the courier's back-off, 1 s then 2 s less 20% jitter, after the time-out), and
# the outcome /metrics counts for them (bluezone_sends_total).
SEND_FAULTS = {
    "429": (lambda tg: tg.fail_next("sendMessage", 429, retry_after=2), [429], [2.0], "rate_limited"),
    "500 twice": (lambda tg: tg.fail_next("sendMessage", 500, times=2), [500, 500], [0.8, 1.6], "retry"),
    "502": (lambda tg: tg.fail_next("sendMessage", 502), [502], [0.8], "retry"),
    "time-out": (lambda tg: tg.delay("sendMessage", 6 * SEND_TIMEOUT), [499], [SEND_TIMEOUT + 0.8], "retry"),
}


def sends_counted(outcome: str) -> float:
    return REGISTRY.get_sample_value("bluezone_sends_total", {"channel": "telegram", "outcome": outcome}) or 0.0


async def _settled(service: Service) -> list[OutboxMessage]:
    """The outbox once nothing is left to send (the courier marks a row just after its call)."""
    for _ in range(500):
        async with service.sessions() as db:
            rows = (await db.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
        if rows and all(r.sent_at is not None or r.failed_at is not None for r in rows):
            return list(rows)
        await asyncio.sleep(0.02)
    raise AssertionError(f"outbox never settled: {[(r.id, r.attempts, r.last_error) for r in rows]}")


@pytest.mark.parametrize("fault", SEND_FAULTS)
async def test_polling_send_retried_after_a_fault_arrives_once(tg, database, db_engine, fault):
    inject, answers, pauses, outcome = SEND_FAULTS[fault]
    counted = sends_counted(outcome), sends_counted("sent")
    async with polling_service(tg, database, db_engine, telegram_send_timeout=SEND_TIMEOUT) as service:
        vy = tg.user(7004)
        inject(tg)
        (greeting,) = await exchange(tg, vy.id, lambda: vy.send_command("start"))
        (row,) = await _settled(service)
        await until_idle(service, tg)  # nothing else follows
    attempts = tg.calls_of("sendMessage", vy.id)
    assert [c.failed_with for c in attempts] == [*answers, None]
    assert [c.text for c in tg.sent(vy.id)] == [greeting.text] and "Bluezone" in greeting.text  # once
    for pause, (earlier, later) in zip(pauses, itertools.pairwise(attempts), strict=False):
        assert later.at - earlier.at >= pause, (fault, [c.at for c in attempts])  # backed off
    assert row.sent_at is not None and row.attempts == len(answers) + 1 and row.last_error is None
    assert sends_counted(outcome) - counted[0] == len(answers) and sends_counted("sent") - counted[1] == 1


@pytest.mark.xfail(
    strict=True,
    reason="residual risk: the Bot API has no idempotency key, so a send that "
    "Telegram carried out but answered after TELEGRAM_SEND_TIMEOUT is sent again",
)
async def test_a_send_answered_too_late_arrives_once(tg, database, db_engine):
    async with polling_service(tg, database, db_engine, telegram_send_timeout=SEND_TIMEOUT) as service:
        vy = tg.user(7005)
        tg.delay("sendMessage", 4 * SEND_TIMEOUT, after=True)
        vy.send_command("start")
        await _settled(service)
        await until_idle(service, tg)
    assert tg.calls_of("sendMessage", vy.id)[0].failed_with == 499  # the bot stopped waiting...
    assert len(tg.messages[vy.id]) == 1  # ...for a message Telegram did send: it must not send it again


async def test_many_sends_through_faults_each_arrive_once_and_in_order(database, db_engine):
    """Forty people at once, while the Bot API answers 500, 429 and slowly, and enforces its
    30 messages/s itself: each gets each answer once, in order."""
    async with TelegramStandin(token=TOKEN, max_per_second=30) as tg:
        async with polling_service(tg, database, db_engine, telegram_send_timeout=SEND_TIMEOUT) as service:
            tg.fail_next("sendMessage", 500, times=5)
            tg.fail_next("sendMessage", 429, retry_after=1, times=5)
            tg.delay("sendMessage", 4 * SEND_TIMEOUT, times=3)
            users = [tg.user(7500 + n) for n in range(40)]
            for user in users:
                user.send_command("start")
                user.send_text("het pin")
            rows = await _settled(service)
            await until_idle(service, tg)
    assert all(r.sent_at is not None for r in rows) and len(rows) == 2 * len(users)
    failed = Counter(c.failed_with for c in tg.calls_of("sendMessage") if c.failed_with)
    assert failed[500] == 5 and failed[499] == 3 and failed[429] >= 5, failed
    keys = {str(u.id): [r.body["key"] for r in rows if r.chat_id == str(u.id)] for u in users}
    got = {str(u.id): [c.text for c in tg.sent(u.id)] for u in users}
    words = words_by_label(keys, got)
    for user in users:  # each answer once, in order
        assert got[str(user.id)] == [words[k] for k in keys[str(user.id)]], user
    print(f"\n{len(rows)} sends through {dict(failed)}; {sum(r.attempts for r in rows)} attempts")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def webhook_bot(tg, database, db_engine):
    port = _free_port()
    settings = Settings(
        database_url=database["url"],
        telegram_bot_token=Secret(TOKEN),
        telegram_api_base_url=tg.base_url,
        telegram_webhook_secret=Secret("s3cret-for-tests"),
        public_base_url=f"http://127.0.0.1:{port}",
        http_port=port,
    )
    service = Service(settings, db_engine=db_engine)
    app = init_app(settings, service)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield settings, service
    await runner.cleanup()


async def test_webhook_conversation(tg, webhook_bot):
    settings, service = webhook_bot
    (set_webhook,) = tg.calls_of("setWebhook")
    assert set_webhook.params["url"] == f"{settings.public_base_url}/webhooks/telegram"
    assert set_webhook.params["secret_token"] == "s3cret-for-tests"

    an = tg.user(7101)
    (greeting,) = await exchange(tg, an.id, lambda: an.send_command("start"))
    assert greeting.callback_data() == ["guide", "faq", "support", "install"]
    await exchange(tg, an.id, lambda: an.press("guide"))
    (step,) = await exchange(tg, an.id, lambda: an.press("guide:iphone"))
    assert "apps.apple.com" in str(step.buttons())
    (answer,) = await exchange(tg, an.id, lambda: an.send_text("het pin thi sao"))
    assert "pin" in answer.text.lower()

    async with service.sessions() as db, db.begin():
        await import_csv(db, "commune_code,name,address\n00070,Bưu điện Hoàn Kiếm,75 Đinh Tiên Hoàng\n")
    await exchange(tg, an.id, lambda: an.send_command("menu"))
    await exchange(tg, an.id, lambda: an.press("support"))
    (points,) = await exchange(tg, an.id, lambda: an.send_text("Hoan Kiem"))
    assert "Bưu điện Hoàn Kiếm" in points.text
    (thanks,) = await exchange(tg, an.id, lambda: an.send_command("dacai"))
    assert "Hoàn Kiếm" in thanks.text
    (again,) = await exchange(tg, an.id, lambda: an.send_command("dacai"))
    assert "một lần" in again.text
    async with service.sessions() as db:
        assert (await db.scalars(select(SelfReportedInstall.commune_code))).all() == ["00070"]
    await tg.deliver_pending()
    assert tg.webhook_deliveries and all(d.status == 200 for d in tg.webhook_deliveries)


async def test_webhook_refuses_a_wrong_or_missing_secret(tg, webhook_bot):
    settings, service = webhook_bot
    update = tg.user(7102).build_text("/start")
    url = f"{settings.public_base_url}/webhooks/telegram"
    async with aiohttp.ClientSession() as http:
        for headers in (
            {},
            {"X-Telegram-Bot-Api-Secret-Token": "wrong"},
            {"X-Telegram-Bot-Api-Secret-Token": "s3cret-for-test"},
        ):
            async with http.post(url, json=update, headers=headers) as response:
                assert response.status == 401
        async with http.post(
            url, data=b"{not json", headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-for-tests"}
        ) as response:
            assert response.status == 400
        async with http.get(f"{settings.public_base_url}/healthz") as response:
            assert response.status == 200 and (await response.json())["status"] == "ok"
    await until_idle(service, tg)
    assert tg.sent(7102) == []  # nothing processed


async def test_webhook_retry_of_the_same_update_is_not_handled_twice(tg, webhook_bot):
    settings, service = webhook_bot
    user = tg.user(7103)
    user.send_command("start")
    await tg.deliver_pending()
    update = user.build_command("dacai")
    url = f"{settings.public_base_url}/webhooks/telegram"
    headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-for-tests"}
    async with aiohttp.ClientSession() as http:
        for _ in range(3):  # Telegram retrying an update it thinks failed
            async with http.post(url, json=update, headers=headers) as response:
                assert response.status == 200
    await service.courier.drain()
    # The background sweep may be the one sending a message (drain waits only for the direct
    # sends), so wait for the two expected, then make sure no third one follows.
    await tg.wait_calls("sendMessage", 2, chat_id=user.id)
    await until_idle(service, tg)
    texts = [c.text for c in tg.sent(user.id)]
    assert len(texts) == 2  # the greeting, and one answer to /dacai


async def test_webhook_answers_503_when_the_database_is_down(tg, webhook_bot, monkeypatch):
    settings, service = webhook_bot
    from sqlalchemy.exc import OperationalError

    async def down(incoming):
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("database down"))

    monkeypatch.setattr(service.engine, "handle", down)
    update = tg.user(7104).build_text("/start")
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{settings.public_base_url}/webhooks/telegram",
            json=update,
            headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-for-tests"},
        ) as response:
            assert response.status == 503  # Telegram will deliver it again
