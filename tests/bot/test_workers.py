"""`bluezone-bot run --workers 2` on PostgreSQL: two processes share the port and the database,
and a conversation whose updates reach different workers carries on."""

from __future__ import annotations

import asyncio
import signal

import aiohttp
import pytest
from sqlalchemy import text

from storage.db import create_engine
from tests.standins.telegram_api import TelegramStandin
from tests.workers import run_workers

pytestmark = pytest.mark.e2e  # worker processes against the Telegram stand-in

TOKEN = "4242:workers-test-token"
SECRET = "workers-test-secret"


@pytest.fixture
async def workers(fresh_pg_database):
    async with TelegramStandin(token=TOKEN, username="bluezone_workers_bot") as tg:
        async with run_workers(tg, fresh_pg_database, SECRET) as service:
            yield tg, service.base, service.process


async def _post(http, base, update) -> str:
    async with http.post(
        f"{base}/webhooks/telegram",
        json=update,
        headers={"X-Telegram-Bot-Api-Secret-Token": SECRET, "Connection": "close"},
    ) as response:
        assert response.status == 200
        return response.headers["X-Bluezone-Worker"]


async def _reply(tg, chat_id, before, timeout=15.0):
    for _ in range(int(timeout / 0.02)):
        if len(tg.sent(chat_id)) > before:
            return tg.sent(chat_id)[before]
        await asyncio.sleep(0.02)
    raise AssertionError(f"no reply to {chat_id}\n{tg.describe_calls()}")


async def test_a_conversation_carries_on_across_workers(workers):
    tg, base, process = workers

    async def converse(user_id: int) -> list[str]:
        user = tg.user(user_id)
        served = []
        async with aiohttp.ClientSession() as http:
            for make in (
                lambda: user.build_text("/start"),
                lambda: user.build_press("support"),
                lambda: user.build_text("Hoan Kiem"),
            ):
                before = len(tg.sent(user_id))
                served.append(await _post(http, base, make()))
                await _reply(tg, user_id, before)
        return served

    served = await asyncio.gather(*(converse(9100 + i) for i in range(16)))
    for i in range(16):
        last = tg.sent(9100 + i)[-1].text
        assert "Hoàn Kiếm" in last  # the commune step reached its answer, whichever worker read it
    assert any(len(set(s)) > 1 for s in served), served  # some conversations did switch workers
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0


async def test_the_same_update_reaching_both_workers_is_handled_once(workers, fresh_pg_database):
    """Telegram retrying an update whose answer it missed may hit either worker, even both at
    once: (channel, update id) is claimed in the database, so one of them handles it."""
    tg, base, process = workers
    user = tg.user(9300)
    start = user.build_text("/start")
    async with aiohttp.ClientSession() as http:
        served = await asyncio.gather(*(_post(http, base, start) for _ in range(8)))
        await _reply(tg, 9300, 0)
        press = user.build_press("install")
        served += await asyncio.gather(*(_post(http, base, press) for _ in range(8)))
        await _reply(tg, 9300, 1)
    engine = create_engine(fresh_pg_database)
    try:
        async with engine.connect() as conn:
            marks = await conn.scalar(
                text("SELECT count(*) FROM processed_updates WHERE channel = 'telegram' AND update_id IN (:a, :b)"),
                {"a": str(start["update_id"]), "b": str(press["update_id"])},
            )
            queued = await conn.scalar(
                text(
                    "SELECT count(*) FROM outbox o JOIN accounts a ON a.id = o.account_id "
                    "WHERE a.channel = 'telegram' AND a.chat_id = '9300'"
                )
            )
    finally:
        await engine.dispose()
    assert marks == 2 and queued == 2  # two updates, each handled once, each answered once
    assert len(tg.sent(9300)) == 2 and "Bluezone" in tg.sent(9300)[0].text
    # The kernel spreads the 16 connections over both workers (all on one: a 1 in 32,768 chance).
    assert set(served) == {"1", "2"}, served
