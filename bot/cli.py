"""The `bluezone-bot` command: run the service, chat in the terminal, manage the database and data."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path

import click
from aiohttp import web
from sqlalchemy import func, select

from bot.logs import setup_logging
from bot.settings import Settings
from handlers.types import t
from storage.db import create_engine, sessionmaker
from storage.migrate import upgrade
from storage.models import Commune
from storage.units import load_units

log = logging.getLogger("bluezone_bot")


def _settings() -> Settings:
    settings = Settings.from_env()
    secrets = [s.reveal() for s in (settings.telegram_bot_token, settings.telegram_webhook_secret) if s]
    setup_logging(settings.log_level, secrets)
    return settings


async def prepare_database(settings: Settings) -> None:
    """Bring the schema to the latest revision and load the units if they are missing."""
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        async with sessionmaker(engine)() as db, db.begin():
            if not await db.scalar(select(func.count()).select_from(Commune)):
                provinces, communes = await load_units(db)
                log.info("loaded %s provinces and %s communes", provinces, communes)
    finally:
        await engine.dispose()


@click.group()
def main() -> None:
    """Bluezone outreach bot: install guides, QR check-in, volunteer visits, commune tallies."""


@main.command()
@click.option("--chat/--no-chat", default=None, help="Also chat in this terminal (default: when no messenger is configured and stdin is a terminal).")
def run(chat: bool | None) -> None:
    """Serve: the web server (health check, webhooks) and every configured messenger."""
    settings = _settings()
    asyncio.run(_serve(settings, chat))


async def _serve(settings: Settings, chat: bool | None) -> None:
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
    site = web.TCPSite(runner, settings.http_host, settings.http_port)
    await site.start()
    log.info("serving on http://%s:%s (health check: /healthz)", settings.http_host, settings.http_port)
    if not service.channels or list(service.channels) == ["terminal"]:
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


@main.command()
def chat() -> None:
    """Talk to the bot in this terminal, as a local user, through the same handlers."""
    settings = _settings()

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


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the latest schema."""
    settings = _settings()

    async def go() -> None:
        engine = create_engine(settings.database_url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(go())
    click.echo("database is up to date")


@main.group()
def units() -> None:
    """Administrative units (provinces and communes, GSO codes)."""


@units.command("load")
def units_load() -> None:
    """Load the 34 provinces and 3,321 communes of the 2025 structure (idempotent)."""
    settings = _settings()

    async def go() -> tuple[int, int]:
        engine = create_engine(settings.database_url)
        try:
            await upgrade(engine)
            async with sessionmaker(engine)() as db, db.begin():
                return await load_units(db)
        finally:
            await engine.dispose()

    provinces, communes = asyncio.run(go())
    click.echo(f"{provinces} provinces, {communes} communes")


@main.group("support-points")
def support_points_group() -> None:
    """Support points where citizens get help installing."""


def read_csv_text(path: Path) -> str:
    """A CSV file as text: UTF-8 (with or without BOM, as Excel's "CSV UTF-8" writes it)."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise click.ClickException(f"{path} is not UTF-8: in Excel, save it as \"CSV UTF-8\"") from None


@support_points_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def support_points_import(file: Path) -> None:
    """Import support points from a CSV file (columns: commune_code, name, address,
    opening_hours, phone, latitude, longitude; the first three required)."""
    from storage.support_points import import_csv

    settings = _settings()
    text = read_csv_text(file)

    async def go():
        await prepare_database(settings)
        engine = create_engine(settings.database_url)
        try:
            async with sessionmaker(engine)() as db, db.begin():
                return await import_csv(db, text)
        finally:
            await engine.dispose()

    report = asyncio.run(go())
    for error in report.errors:
        click.echo(f"skipped: {error}", err=True)
    click.echo(f"imported {report.imported} support point(s)")
    if report.errors and not report.imported:
        sys.exit(1)
if __name__ == "__main__":
    main()
