"""`run` (the service) and `chat` (the bot in this terminal)."""

from __future__ import annotations

import asyncio
import signal
import sys

import click
from aiohttp import web

from bot.commands.common import load_settings, log, prepare_database
from bot.settings import Settings
from handlers.types import t


@click.command()
@click.option("--chat/--no-chat", default=None, help="Also chat in this terminal (default: when no messenger is configured and stdin is a terminal).")
def run(chat: bool | None) -> None:
    """Serve: the web server (health check, webhooks) and every configured messenger."""
    asyncio.run(serve(load_settings(), chat))


async def serve(settings: Settings, chat: bool | None) -> None:
    from bot.channels.terminal import TerminalChannel, chat_loop
    from bot.service import Service
    from bot.web import init_app

    await prepare_database(settings)
    service = Service(settings)
    service.configure_channels()
    if chat is None:
        chat = not service.channels and sys.stdin.isatty()
    if chat:
        service.add_channel(TerminalChannel())
    app = init_app(settings, service)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.http_host, settings.http_port).start()
    log.info("serving on http://%s:%s (health check: /healthz)", settings.http_host, settings.http_port)
    if set(service.channels) <= {"terminal"}:
        log.info("no messenger configured (set TELEGRAM_BOT_TOKEN to serve Telegram)")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        if chat:
            print(service.content.render(t("menu.terminal_intro")), flush=True)
            chatting = asyncio.create_task(chat_loop(service))
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({chatting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            for task in (chatting, stopping):
                task.cancel()
        else:
            await stop.wait()
    finally:
        log.info("shutting down")
        await runner.cleanup()


@click.command()
def chat() -> None:
    """Talk to the bot in this terminal, as a local user, through the same handlers."""
    settings = load_settings()

    async def go() -> None:
        from bot.channels.terminal import TerminalChannel, chat_loop
        from bot.service import Service

        await prepare_database(settings)
        service = Service(settings)
        service.add_channel(TerminalChannel())
        try:
            await chat_loop(service)
        finally:
            await service.stop()

    asyncio.run(go())
