"""Announcement to the citizens of a commune through Telegram's limit of 30 messages/s (goal ≥ 28/s).

BENCH_BROADCAST_USERS citizens (default 10,000) of one commune are seeded in a fresh PostgreSQL
database (SQLite when there is none); `bluezone-bot run` serves in its own process, through
python-telegram-bot and the bot's own pace (bot/channels/telegram.py), against a TelegramStandin
that answers 429 (retry_after=1) to sends beyond 30 in any second. A coordinator writes the announcement in chat
(/thongbao, the text, [Gửi]) through the webhook. Reported: the rate over the send window, the
429s the stand-in answered, and per citizen how many copies arrived (each must get exactly one).

Then restarts: the BENCH_BROADCAST_RESTART_USERS citizens (default 600) of another commune get an
announcement while the service is stopped part-way with SIGTERM (a graceful stop) and started
again; then those of a third commune, with SIGKILL (the rows it had leased wait for their lease,
60 s, to run out; a send Telegram took just before the kill, not yet marked sent, goes again).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter

import aiohttp
from sqlalchemy import func, insert, select

from bot.commands.common import prepare_database
from bot.settings import Settings
from storage import roles
from storage.accounts import find_or_create_person
from storage.db import create_engine, sessionmaker
from storage.models import Account, Commune, OutboxMessage, User, utcnow
from tests.benchmarks.bench_webhook import PROJECT, drop_pg_database, free_port, fresh_pg_database, stop, wait_up
from tests.standins.telegram_api import TelegramStandin

TOKEN = "4343:bench-broadcast-token"
SECRET = "bench-broadcast-secret"
USERS = int(os.environ.get("BENCH_BROADCAST_USERS") or 10_000)
RESTART_USERS = int(os.environ.get("BENCH_BROADCAST_RESTART_USERS") or 600)
FIRST_CITIZEN = 5_200_000_001
COORDINATOR = 5_100_000_001


async def seed(url: str, groups: list[int]) -> list[tuple[str, list[int]]]:
    """One commune per group of citizens (bulk inserted, as if each had told the bot their
    commune), each with a coordinator; (commune, chat ids) per group."""
    await prepare_database(Settings(database_url=url))
    engine = create_engine(url)
    out = []
    try:
        async with sessionmaker(engine)() as db, db.begin():
            communes = (await db.scalars(select(Commune.code).order_by(Commune.code).limit(len(groups)))).all()
            next_id = FIRST_CITIZEN
            for index, (commune, size) in enumerate(zip(communes, groups, strict=True)):
                chats = list(range(next_id, next_id + size))
                next_id += size
                now = utcnow()
                for start in range(0, size, 2000):
                    part = chats[start : start + 2000]
                    ids = (
                        await db.scalars(
                            insert(User).returning(User.id),
                            [{"commune_code": commune, "created_at": now} for _ in part],
                        )
                    ).all()
                    await db.execute(
                        insert(Account),
                        [
                            {
                                "channel": "telegram",
                                "external_id": str(chat),
                                "chat_id": str(chat),
                                "user_id": uid,
                                "created_at": now,
                                "last_seen_at": now,
                            }
                            for chat, uid in zip(part, ids, strict=True)
                        ],
                    )
                person, _ = await find_or_create_person(db, "telegram", str(COORDINATOR + index))
                await roles.grant(db, person.id, roles.Role.COORDINATOR, commune)
                out.append((commune, chats))
        return out
    finally:
        await engine.dispose()


class Bot:
    """`bluezone-bot run` (one process) against the stand-in, restartable."""

    def __init__(self, tg: TelegramStandin, url: str) -> None:
        self.tg = tg
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DATABASE_URL": url,
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": tg.base_url,
            "TELEGRAM_WEBHOOK_SECRET": SECRET,
            "PUBLIC_BASE_URL": self.base,
            "HTTP_PORT": str(self.port),
            "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
        }
        self.process: subprocess.Popen | None = None
        self.log = open(os.environ.get("BENCH_BROADCAST_LOG", os.devnull), "a")

    async def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run"],
            env=self.env,
            cwd=PROJECT,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        await wait_up(self.base, self.process, 1)

    async def stop(self, how: signal.Signals = signal.SIGTERM) -> None:
        if how == signal.SIGKILL:
            self.process.kill()
            self.process.wait()
        else:
            await stop(self.process)

    async def say(self, coordinator: int, build) -> None:
        """One update from the coordinator through the webhook; waits for the bot's answer."""
        user = self.tg.users.get(coordinator) or self.tg.user(coordinator)
        before = len(self.tg.sent(coordinator))
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{self.base}/webhooks/telegram", json=build(user), headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
            ) as response:
                assert response.status == 200, response.status
        for _ in range(300):
            if len(self.tg.sent(coordinator)) > before:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"no answer to the coordinator\n{self.tg.describe_calls()}")

    async def announce(self, coordinator: int, text: str) -> float:
        """/thongbao, the text, [Gửi]: the time of the press."""
        await self.say(coordinator, lambda u: u.build_text("/thongbao"))
        await self.say(coordinator, lambda u: u.build_text(text))
        pressed = time.monotonic()
        await self.say(coordinator, lambda u: pressed_button(self.tg, u.build_press("ann:send")))
        return pressed


def pressed_button(tg: TelegramStandin, update: dict) -> dict:
    """A press posted straight to the webhook: open its callback query, as Telegram would."""
    tg._open_callbacks.add(update["callback_query"]["id"])
    return update


def copies(tg: TelegramStandin, chats: set[int]) -> Counter:
    return Counter(c.chat_id for c in tg.calls if c.method == "sendMessage" and c.ok and c.chat_id in chats)


async def wait_delivered(tg: TelegramStandin, chats: set[int], count: int, limit: float) -> int:
    """Wait until `count` copies reached these chats; reads only the calls new since the last
    look, so that the stand-in (in this event loop) is not held up answering."""
    deadline = time.monotonic() + limit
    seen, looked = sum(copies(tg, chats).values()), len(tg.calls)
    while seen < count and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        new, looked = tg.calls[looked:], len(tg.calls)
        seen += sum(1 for c in new if c.method == "sendMessage" and c.ok and c.chat_id in chats)
    return seen


def verdict(tg: TelegramStandin, chats: list[int]) -> str:
    got = copies(tg, set(chats))
    missed = sum(1 for c in chats if got[c] == 0)
    twice = sum(1 for c in chats if got[c] > 1)
    return f"{len(chats) - missed - twice} got exactly one copy, {missed} missed, {twice} more than one"


async def unsettled(url: str) -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.broadcast_id.is_not(None), OutboxMessage.sent_at.is_(None))
            )
    finally:
        await engine.dispose()


async def broadcast(tg: TelegramStandin, url: str, commune: str, chats: list[int]) -> None:
    since = len(tg.calls)
    bot = Bot(tg, url)
    await bot.start()
    try:
        pressed = await bot.announce(COORDINATOR, "Bench: tiêm chủng tại trạm y tế xã sáng thứ Bảy.")
        delivered = await wait_delivered(tg, set(chats), len(chats), limit=len(chats) / 20 + 120)
        await asyncio.sleep(2)  # anything sent twice would show now
    finally:
        await bot.stop()
    sends = sorted(c.at for c in tg.calls if c.method == "sendMessage" and c.ok and c.chat_id in set(chats))
    refused = [c for c in tg.calls[since:] if c.failed_with == 429]
    other = Counter(c.failed_with for c in tg.calls[since:] if not c.ok and c.failed_with != 429)
    window = sends[-1] - sends[0] if len(sends) > 1 else float("nan")
    print(
        f"   {len(chats)} citizens of commune {commune}: {delivered} delivered; "
        f"{len(sends) / window:.1f} messages/s over the send window ({window:.0f} s, "
        f"first {sends[0] - pressed:.1f} s after [Gửi]); {len(refused)} answered 429 by the stand-in"
        + (f", other refusals {dict(other)}" if other else "")
    )
    gaps = sorted(b - a for a, b in itertools.pairwise(sends))
    print(
        f"   pauses between sends: median {gaps[len(gaps) // 2] * 1000:.0f} ms, "
        f"{sum(g > 0.1 for g in gaps)} over 100 ms, longest {gaps[-1] * 1000:.0f} ms"
    )
    print(f"   {verdict(tg, chats)}; outbox rows of announcements not sent: {await unsettled(url)}")


async def restart(
    tg: TelegramStandin, url: str, commune: str, chats: list[int], coordinator: int, how: signal.Signals
) -> None:
    """Stopped with `how` when a third had their copy, started again: still one copy each."""
    since = len(tg.calls)
    bot = Bot(tg, url)
    await bot.start()
    try:
        started = await bot.announce(coordinator, f"Bench: lịch tiêm bổ sung ({how.name}), xin mang theo căn cước.")
        at = await wait_delivered(tg, set(chats), len(chats) // 3, limit=len(chats))
        await bot.stop(how)
        await bot.start()
        delivered = await wait_delivered(tg, set(chats), len(chats), limit=len(chats) / 20 + 150)
        took = time.monotonic() - started
        await asyncio.sleep(2)
    finally:
        await bot.stop()
    print(
        f"   {how.name} after {at} of {len(chats)} (commune {commune}), started again: {delivered} delivered "
        f"in {took:.0f} s; {verdict(tg, chats)}; {sum(c.failed_with == 429 for c in tg.calls[since:])} "
        f"answered 429; outbox rows of announcements not sent: {await unsettled(url)}"
    )


async def run() -> None:
    url = await fresh_pg_database()
    tmp = None
    if url is None:
        tmp = tempfile.TemporaryDirectory()
        url = f"sqlite:///{tmp.name}/broadcast.db"
    print(f"   database: {'PostgreSQL' if url.startswith('postgres') else 'SQLite'}")
    try:
        started = time.monotonic()
        (commune, chats), *others = await seed(url, [USERS, RESTART_USERS, RESTART_USERS])
        print(f"   seeded {USERS + 2 * RESTART_USERS} citizens in {time.monotonic() - started:.1f} s")
        async with TelegramStandin(token=TOKEN, username="bluezone_bench_bot", max_per_second=30) as tg:
            await broadcast(tg, url, commune, chats)
            for index, ((other, its_chats), how) in enumerate(
                zip(others, (signal.SIGTERM, signal.SIGKILL), strict=True)
            ):
                await restart(tg, url, other, its_chats, COORDINATOR + 1 + index, how)
    finally:
        if tmp is None:
            await drop_pg_database(url)
        else:
            tmp.cleanup()


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
