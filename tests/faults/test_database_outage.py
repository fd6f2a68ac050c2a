"""PostgreSQL going away under load (its connections dropped and refused for a few seconds, as
in a restart): the webhook answers 503 meanwhile, so Telegram delivers those updates again;
the service recovers by itself; every update is handled exactly once."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web
from sqlalchemy import func, select

from bot.commands.common import prepare_database
from bot.service import Service
from bot.settings import Secret, Settings
from bot.web import init_app
from storage.db import create_engine
from storage.models import OutboxMessage, ProcessedUpdate
from tests.standins.tcp_proxy import CuttableProxy
from tests.standins.telegram_api import TelegramStandin

TOKEN = "5151:outage-token"
SECRET = "outage-secret"


async def test_service_survives_a_database_outage(fresh_pg_database, unused_tcp_port):
    direct = fresh_pg_database
    fresh_database = direct.rsplit("/", 1)[1]
    await prepare_database(Settings(database_url=direct))
    async with TelegramStandin(token=TOKEN) as tg, CuttableProxy("127.0.0.1", 5432) as proxy:
        via_proxy = f"postgresql+asyncpg://postgres@127.0.0.1:{proxy.port}/{fresh_database}"
        settings = Settings(
            database_url=via_proxy,
            telegram_bot_token=Secret(TOKEN),
            telegram_api_base_url=tg.base_url,
            telegram_webhook_secret=Secret(SECRET),
            public_base_url=f"http://127.0.0.1:{unused_tcp_port}",
        )
        service = Service(settings)
        runner = web.AppRunner(init_app(settings, service))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
        url = f"http://127.0.0.1:{unused_tcp_port}/webhooks/telegram"
        statuses: dict[int, list[int]] = {}
        try:
            async with aiohttp.ClientSession() as http:

                async def deliver(update: dict) -> None:
                    """As Telegram does: again and again until the answer is 200."""
                    for _ in range(200):
                        try:
                            async with http.post(
                                url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
                            ) as r:
                                statuses.setdefault(update["update_id"], []).append(r.status)
                                if r.status == 200:
                                    return
                        except aiohttp.ClientError:
                            statuses.setdefault(update["update_id"], []).append(0)
                        await asyncio.sleep(0.1)
                    raise AssertionError(f"update {update['update_id']} never accepted")

                started: set[int] = set()
                cut = asyncio.Event()

                async def user(n: int) -> None:
                    fake = tg.user(8000 + n)
                    for i, text_ in enumerate(("/start", "het pin", "quyen vi tri", "hướng dẫn", "bluetooth")):
                        await deliver(fake.build_text(text_))
                        if i == 0:  # the rest are sent into the outage, whatever the speed of the bot
                            started.add(n)
                            await cut.wait()
                        await asyncio.sleep(0.05)

                async def outage() -> None:
                    while len(started) < 10:
                        await asyncio.sleep(0.01)
                    proxy.cut()  # while the first updates' replies are on their way
                    cut.set()
                    await asyncio.sleep(3)
                    proxy.restore()

                await asyncio.gather(outage(), *(user(n) for n in range(10)))
                async with http.get(f"http://127.0.0.1:{unused_tcp_port}/healthz") as r:
                    assert r.status == 200  # recovered by itself, no restart
            await service.courier.drain()
            for _ in range(100):  # replies of updates handled just before the cut may wait for the sweep
                async with service.sessions() as db:
                    if not await db.scalar(
                        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
                    ):
                        break
                await asyncio.sleep(0.1)
        finally:
            await runner.cleanup()

    assert any(503 in s for s in statuses.values()), statuses  # the outage was seen, and answered 5xx
    assert all(s[-1] == 200 for s in statuses.values())
    engine = create_engine(direct)
    async with engine.connect() as conn:
        processed = set((await conn.execute(select(ProcessedUpdate.update_id))).scalars())
        per_update = dict(
            (await conn.execute(select(OutboxMessage.update_id, func.count()).group_by(OutboxMessage.update_id))).all()
        )
    await engine.dispose()
    assert processed == {str(u) for u in statuses}, (
        processed ^ {str(u) for u in statuses},
        statuses,
    )  # every update handled...
    assert set(per_update.values()) == {1} and len(per_update) == len(statuses)  # ...exactly once
    for n in range(10):
        assert len(tg.sent(8000 + n)) == 5  # one answer each, none repeated
