"""Fixtures for the Zalo channels: the stand-ins, and the bot's real web server in front of them;
waiting until the bot and its stand-ins have settled, for checks that nothing else follows."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from sqlalchemy import select

from bot.service import Service
from bot.settings import Secret, Settings
from bot.web import init_app
from storage.models import InboundEvent, OutboxMessage
from tests.standins.zalo_bot_api import ZaloBotStandin
from tests.standins.zalo_common import free_port
from tests.standins.zalo_oa_api import ZaloOaStandin


@contextlib.asynccontextmanager
async def serving(settings: Settings, service: Service) -> AsyncIterator[None]:
    """The aiohttp app of bot/web.py on settings.http_port, as `bluezone-bot run` serves it."""
    runner = web.AppRunner(init_app(settings, service))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", settings.http_port).start()
    try:
        yield
    finally:
        await runner.cleanup()


async def until_idle(service: Service, *standins, quiet: float = 0.2, timeout: float = 15.0) -> None:
    """Returns once nothing more will happen: every update the bot fetched is handled, the inbound
    queue is done, every outbox row is sent or given up (a retry due later included), no send is
    under way, and each stand-in is idle (no request being answered, no update waiting, and
    nothing at all for `quiet` seconds). For checks that nothing else followed."""
    deadline = time.monotonic() + timeout
    while True:
        for channel in service.channels.values():
            application = getattr(channel, "application", None)  # python-telegram-bot's polled updates
            if application is not None:
                await asyncio.wait_for(application.update_queue.join(), max(deadline - time.monotonic(), 0.1))
        await service.courier.drain()
        for standin in standins:
            await standin.wait_idle(quiet, max(deadline - time.monotonic(), 0.1))
        async with service.sessions() as db:
            unsent = (
                await db.scalars(
                    select(OutboxMessage.id).where(OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None))
                )
            ).all()
            unhandled = (await db.scalars(select(InboundEvent.id).where(InboundEvent.done_at.is_(None)))).all()
        if not unsent and not unhandled:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"never settled: outbox {list(unsent)} unsent, inbound {list(unhandled)} unhandled")
        await asyncio.sleep(0.05)  # a retry due later: the courier's sweep sends it


def oa_settings(oa: ZaloOaStandin, database: dict, port: int, **extra) -> Settings:
    return Settings(
        database_url=database["url"],
        http_port=port,
        public_base_url=f"http://127.0.0.1:{port}",
        zalo_oa_app_id=oa.app_id,
        zalo_oa_app_secret=Secret(oa.app_secret),
        zalo_oa_secret_key=Secret(oa.oa_secret_key),
        zalo_oa_refresh_token=Secret("refresh-token-0"),
        zalo_oa_id=oa.oa_id,
        zalo_oa_api_base_url=oa.base_url,
        zalo_oauth_base_url=oa.base_url,
        media_url_key=Secret("media-url-key-for-tests"),
        **extra,
    )


@pytest.fixture
async def oa():
    async with ZaloOaStandin() as standin:
        yield standin


@pytest.fixture
async def oa_bot(oa, database, db_engine):
    """The bot serving a Zalo OA: webhook events from the stand-in, replies to its OpenAPI."""
    port = free_port()
    settings = oa_settings(oa, database, port)
    service = Service(settings, db_engine=db_engine)
    async with serving(settings, service):
        oa.webhook_url = f"{settings.public_base_url}/webhooks/zalo-oa"
        yield service


@pytest.fixture
async def zbot():
    async with ZaloBotStandin() as standin:
        yield standin


def bot_settings(zbot: ZaloBotStandin, database: dict, port: int, webhook: bool) -> Settings:
    return Settings(
        database_url=database["url"],
        http_port=port,
        public_base_url=f"http://127.0.0.1:{port}" if webhook else None,
        zalo_bot_token=Secret(zbot.token),
        zalo_bot_api_base_url=zbot.base_url,
        zalo_bot_webhook_secret=Secret("zalo-bot-secret-for-tests") if webhook else None,
        media_url_key=Secret("media-url-key-for-tests"),
    )


@pytest.fixture
async def polling_zalo_bot(zbot, database, db_engine):
    """The bot on the Zalo Bot Platform without a public address: it long-polls getUpdates
    (its web server still serves the signed media URLs the platform fetches photos from)."""
    port = free_port()
    settings = bot_settings(zbot, database, port, webhook=False)
    service = Service(settings, db_engine=db_engine)
    service.configure_channels()
    service.channels["zalo_bot"].poll_timeout = 1
    async with serving(settings, service):
        yield service


@pytest.fixture
async def webhook_zalo_bot(zbot, database, db_engine):
    port = free_port()
    settings = bot_settings(zbot, database, port, webhook=True)
    service = Service(settings, db_engine=db_engine)
    async with serving(settings, service):
        yield service
