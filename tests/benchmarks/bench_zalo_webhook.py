"""Zalo OA webhook: time from POST to the answer (Zalo wants it within 2 s), on SQLite and PostgreSQL.

The bot runs in its own process (the real web server, engine and courier, as `bluezone-bot run`);
the OA stand-in, in this process, plays Zalo: it posts signed events and receives the replies.
Each answer comes once the event, its effects and its replies are committed; the replies are then
sent from the outbox. Three loads: one person at a time, 10 people at once, 40 people at once
(each person sends 10 messages back to back, without pausing to read), and Zalo retrying an event.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import tempfile
import time
import uuid

from sqlalchemy import text

from bot.commands.common import prepare_database
from bot.settings import Settings
from storage.db import create_engine, sessionmaker
from storage.migrate import upgrade
from storage.units import load_units
from tests.channels.conftest import oa_settings, serving
from tests.standins.zalo_common import free_port
from tests.standins.zalo_oa_api import ZaloOaStandin

SCRIPT = [
    "/start",
    "btn:guide",
    "btn:guide:android",
    "btn:guide:android:1",
    "het pin thi sao",
    "btn:support",
    "Hoàn Kiếm",
    "btn:menu",
    "btn:install",
    "có tốn pin không",
]


def _serve(settings: Settings, schema: str | None, stop) -> None:
    """The bot's process: serve until told to stop (BENCH_PROFILE=file: with cProfile)."""
    from bot.service import Service

    if os.environ.get("BENCH_PROFILE"):
        import cProfile

        cProfile.runctx(
            "_serve_plain(settings, schema, stop, Service)", globals(), locals(), os.environ["BENCH_PROFILE"]
        )
        return
    _serve_plain(settings, schema, stop, Service)


def _serve_plain(settings: Settings, schema: str | None, stop, Service) -> None:
    async def go() -> None:
        engine = create_engine(settings.database_url, schema=schema)
        service = Service(settings, db_engine=engine)
        async with serving(settings, service):
            while not stop.is_set():
                await asyncio.sleep(0.05)
            await service.courier.drain()
        await engine.dispose()

    asyncio.run(go())


def figures(label: str, seconds: list[float]) -> None:
    ms = sorted(s * 1000 for s in seconds)
    p = lambda f: ms[min(len(ms) - 1, int(f * len(ms)))]
    over = sum(s > 2 for s in seconds)
    print(
        f"     {label}: {len(ms)} events, p50 {p(0.5):.0f} ms, p99 {p(0.99):.0f} ms, "
        f"max {ms[-1]:.0f} ms, over 2 s: {over}"
    )


async def run(database: dict, label: str) -> None:
    async with ZaloOaStandin() as oa:
        port = free_port()
        settings = oa_settings(oa, database, port)
        # These people fire 10 messages without waiting for answers: more replies follow their last
        # message than Zalo's free-reply quota allows. The quota is not what is measured here.
        oa.replies_per_window = None
        context = multiprocessing.get_context("spawn")
        stop = context.Event()
        bot = context.Process(target=_serve, args=(settings, database["schema"], stop))
        bot.start()
        try:
            oa.webhook_url = f"{settings.public_base_url}/webhooks/zalo-oa"
            await _wait_up(oa)
            print(f"   {label}:")

            async def conversation(user) -> list:
                return [await oa.deliver(user.text_event(line)) for line in SCRIPT]

            for people in (1, 10, 40):
                users = [oa.user(f"5510185758{people:03d}{i:06d}") for i in range(people)]
                started = time.perf_counter()
                deliveries = [d for ds in await asyncio.gather(*(conversation(u) for u in users)) for d in ds]
                elapsed = time.perf_counter() - started
                assert all(d.status == 200 for d in deliveries)
                figures(
                    f"{people:>2} at once ({len(deliveries) / elapsed:.0f} events/s)", [d.seconds for d in deliveries]
                )
            event = oa.user("5510185758999000001").text_event("/menu")
            retries = [await oa.deliver(event) for _ in range(30)][1:]
            figures("Zalo retrying one event", [d.seconds for d in retries])
            settled = -1
            while settled != len(oa.calls):  # until the courier has sent everything
                settled = len(oa.calls)
                await asyncio.sleep(1)
            refused = [c for c in oa.sends(ok_only=False) if not c.ok]
            print(f"     replies sent: {len(oa.sends())}, refused: {len(refused)}")
        finally:
            stop.set()
            await asyncio.to_thread(bot.join, 30)


async def _wait_up(oa: ZaloOaStandin) -> None:
    import aiohttp

    healthz = oa.webhook_url.replace("/webhooks/zalo-oa", "/healthz")
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            try:
                async with http.get(healthz) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError("the bot did not start")


async def sqlite() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        database = {"url": f"sqlite:///{tmp}/bench.db", "schema": None}
        await prepare_database(Settings(database_url=database["url"]))
        await run(database, "SQLite (WAL, one file)")


async def postgresql() -> None:
    url = os.environ.get("TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url)
    try:
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        print(f"   PostgreSQL: skipped ({exc.__class__.__name__})")
        await admin.dispose()
        return
    try:
        engine = create_engine(url, schema=schema)
        await upgrade(engine)
        async with sessionmaker(engine)() as db, db.begin():
            await load_units(db)
        await engine.dispose()
        await run({"url": url, "schema": schema}, "PostgreSQL")
    finally:
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await admin.dispose()


def main() -> None:
    asyncio.run(sqlite())
    asyncio.run(postgresql())
