"""Flood guard: calm people's answer and reply times while one account floods the webhook.

Ten calm citizens each send 15 updates one after another (/start, the guide's buttons, FAQ
questions typed in), waiting for the bot's reply and THINK_S before the next, like a person
reading. Each is timed twice: until the webhook's answer (POST /webhooks/telegram → 200) and until
the update's reply (its first send or edit to that chat) reached the TelegramStandin. Scenarios,
side by side against `bluezone-bot run` (1 worker, the harness of bench_webhook), on PostgreSQL
and SQLite: the calm people alone; the same while one account posts /start over
FLOOD_CONNECTIONS connections, from FLOOD_LEAD_S before the calm people start until they finish,
paced at FLOOD_PACED_PER_S and then as fast as the connections allow; for contrast, the unpaced
flood with the guard turned off (FLOOD_BURST=0). "accepted" counts the flooder's updates the bot
handled (its processed-update marks), "replies" its sends on the stand-in. The guard is a token
bucket: 20 at once, then 2 a second, and one "slow down" notice.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import aiohttp
from sqlalchemy import func, select

from storage.db import create_engine
from storage.models import OutboxMessage, ProcessedUpdate
from tests.benchmarks.bench_webhook import (
    TOKEN,
    drop_pg_database,
    fresh_pg_database,
    post_update,
    presser,
    seed,
    settle,
    start_bot,
    stop,
    wait_up,
)
from tests.standins.telegram_api import SENDING_METHODS, FakeUser, TelegramStandin

CALM_USERS = 10
THINK_S = 0.2
FLOOD_CONNECTIONS = 8
FLOOD_LEAD_S = 1.0
FLOOD_PACED_PER_S = 100  # far more than a person can type: a scripted account


@dataclass
class Scenario:
    name: str
    answers: list[float] = field(default_factory=list)  # calm people's webhook answer times, s
    replies: list[float] = field(default_factory=list)  # calm people's time until the reply, s
    calm_errors: int = 0  # non-200 answers or replies that never came
    flood_posted: int = 0
    flood_status: dict[int, int] = field(default_factory=dict)
    flood_seconds: float = 0.0
    flood_accepted: int = 0
    flood_replies: int = 0


def calm_script(tg: TelegramStandin, user: FakeUser) -> list[Callable[[], dict]]:
    press = presser(tg, user)
    steps: list[Callable[[], dict]] = [lambda: user.build_text("/start")]
    steps += [
        lambda d=d: press(d)
        for d in ("guide", "guide:android", "guide:android:1", "guide:android:2", "guide:android:3")
    ]
    steps += [lambda q=q: user.build_text(q) for q in ("app gì vậy", "có bắt buộc phải cài không")]
    steps += [lambda: user.build_text("/start")]
    steps += [lambda d=d: press(d) for d in ("guide", "guide:iphone", "guide:iphone:1", "guide:iphone:2")]
    steps += [lambda q=q: user.build_text(q) for q in ("có thu thập thông tin cá nhân không", "tại sao phải cài")]
    return steps


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1000 if ordered else float("nan")


async def calm_person(
    http: aiohttp.ClientSession,
    base: str,
    tg: TelegramStandin,
    user: FakeUser,
    result: Scenario | None,
    think: float = THINK_S,
) -> None:
    """One person's script: post, wait for the reply, think, next; timed into `result`."""
    chat = str(user.id)
    for build in calm_script(tg, user):
        update = build()
        since = len(tg.calls)
        t0 = time.monotonic()
        status = await post_update(http, base, update)
        answered = time.monotonic() - t0
        try:
            reply = await tg.wait_for(
                lambda c: c.method in SENDING_METHODS and str(c.chat_id) == chat, timeout=60, since=since
            )
        except Exception:
            reply = None
        if result is not None:
            if status != 200 or reply is None:
                result.calm_errors += 1
            else:
                result.answers.append(answered)
                result.replies.append(reply.at - t0)
        await asyncio.sleep(think)


async def flood(
    base: str, user: FakeUser, result: Scenario, stop_flood: asyncio.Event, rate: float | None
) -> list[int]:
    """Post /start over FLOOD_CONNECTIONS connections, `rate` a second (None: as fast as they
    allow) until told to stop; the update ids."""
    ids: list[int] = []
    connector = aiohttp.TCPConnector(limit=FLOOD_CONNECTIONS)
    due = time.monotonic()
    async with aiohttp.ClientSession(connector=connector) as http:

        async def connection() -> None:
            nonlocal due
            while not stop_flood.is_set():
                if rate:
                    due = max(due + 1 / rate, time.monotonic() - 1)  # a late connection does not burst
                    await asyncio.sleep(due - time.monotonic())
                update = user.build_text("/start")
                ids.append(update["update_id"])
                status = await post_update(http, base, update)
                result.flood_status[status] = result.flood_status.get(status, 0) + 1

        started = time.monotonic()
        await asyncio.gather(*(connection() for _ in range(FLOOD_CONNECTIONS)))
        result.flood_seconds = time.monotonic() - started
    result.flood_posted = len(ids)
    return ids


async def scenario(
    name: str, base: str, tg: TelegramStandin, engine, users: Iterator[int], flooding: bool, rate: float | None
) -> Scenario:
    result = Scenario(name)
    since = len(tg.calls)
    stop_flood = asyncio.Event()
    flooder = tg.user(next(users)) if flooding else None
    flooding_task = asyncio.create_task(flood(base, flooder, result, stop_flood, rate)) if flooder else None
    if flooder:
        await asyncio.sleep(FLOOD_LEAD_S)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CALM_USERS)) as http:
        await asyncio.gather(*(calm_person(http, base, tg, tg.user(next(users)), result) for _ in range(CALM_USERS)))
    stop_flood.set()
    ids = await flooding_task if flooding_task else []

    async def outbox() -> int:
        async with engine.connect() as conn:
            return await conn.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None))
            )

    await settle(tg, since, outbox, quiet=0.5)
    if flooder:
        keys = [str(i) for i in ids]
        async with engine.connect() as conn:
            for i in range(0, len(keys), 1000):
                result.flood_accepted += await conn.scalar(
                    select(func.count())
                    .select_from(ProcessedUpdate)
                    .where(ProcessedUpdate.channel == "telegram", ProcessedUpdate.update_id.in_(keys[i : i + 1000]))
                )
        result.flood_replies = sum(
            c.method in SENDING_METHODS and str(c.chat_id) == str(flooder.id) for c in tg.calls[since:]
        )
    return result


async def measure(database: str, url: str) -> list[Scenario]:
    await seed(url, [])
    users = iter(range(6_300_000_001, 6_400_000_000))
    results = []
    engine = create_engine(url)
    try:
        async with TelegramStandin(token=TOKEN, username="bluezone_bench_bot") as tg:
            for guard, names in (
                (
                    True,
                    (
                        "calm people alone",
                        f"flood at {FLOOD_PACED_PER_S}/s, guard on",
                        "flood as fast as possible, guard on",
                    ),
                ),
                (False, ("flood as fast as possible, guard off (FLOOD_BURST=0)",)),
            ):
                process, base = start_bot(tg, url, 1, env=None if guard else {"FLOOD_BURST": "0"})
                try:
                    await wait_up(base, process, 1)
                    async with aiohttp.ClientSession() as http:  # warm-up: one person, not counted
                        await calm_person(http, base, tg, tg.user(next(users)), None, think=0)
                    for name in names:
                        results.append(
                            await scenario(
                                f"{database}: {name}",
                                base,
                                tg,
                                engine,
                                users,
                                flooding="flood" in name,
                                rate=FLOOD_PACED_PER_S if "/s" in name else None,
                            )
                        )
                finally:
                    await stop(process)
    finally:
        await engine.dispose()
    return results


def table(results: list[Scenario]) -> None:
    print(
        f"   {CALM_USERS} calm people x 15 updates ({THINK_S * 1000:.0f} ms thinking after each reply); "
        f"flood: /start over {FLOOD_CONNECTIONS} connections"
    )
    print(
        "   | scenario | calm answer p50 / p99 | calm reply p50 / p99 | flood updates/s | "
        "flood posted / accepted / dropped | flooder's replies |"
    )
    print("   | --- | --- | --- | --- | --- | --- |")
    for r in results:
        errors = f" ({r.calm_errors} calm updates failed)" if r.calm_errors else ""
        if r.flood_posted:
            other = {k: v for k, v in r.flood_status.items() if k != 200}
            flood_cells = (
                f"{r.flood_posted / r.flood_seconds:.0f} over {r.flood_seconds:.1f} s | "
                f"{r.flood_posted} / {r.flood_accepted} / {r.flood_posted - r.flood_accepted}"
                f"{f' (not 200: {other})' if other else ''} | {r.flood_replies}"
            )
        else:
            flood_cells = "- | - | -"
        print(
            f"   | {r.name}{errors} | {percentile(r.answers, 0.5):.0f} / {percentile(r.answers, 0.99):.0f} ms | "
            f"{percentile(r.replies, 0.5):.0f} / {percentile(r.replies, 0.99):.0f} ms | {flood_cells} |",
            flush=True,
        )


async def run() -> None:
    results: list[Scenario] = []
    url = await fresh_pg_database()
    if url is not None:
        try:
            results += await measure("PostgreSQL", url)
        finally:
            await drop_pg_database(url)
    with tempfile.TemporaryDirectory() as tmp:
        results += await measure("SQLite", f"sqlite:///{tmp}/flood.db")
    table(results)


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
