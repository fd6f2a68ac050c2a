"""SIGKILL of one of two workers under load: the supervisor starts it again, and every update the
webhook answered 200 to is handled, and answered, exactly once.

The webhook answers 200 only after the update's effects and its replies (the outbox) are
committed, so a killed worker loses nothing it acknowledged: what it had not sent yet, the other
workers send once its lease on those outbox rows runs out (OUTBOX_LEASE_SECONDS, shortened here
so the test does not wait the production minute). An update whose connection the kill broke
gets no 200; the test delivers it again, as Telegram does, and the processed mark keeps it from
being handled twice if the dead worker had committed it after all.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
from collections import Counter, defaultdict

import aiohttp
from sqlalchemy import func, select

from storage.db import create_engine
from storage.models import CommuneDailyCount, OutboxMessage, ProcessedUpdate, SelfReportedInstall
from tests.harness import words_by_label
from tests.standins.telegram_api import TelegramStandin
from tests.workers import SECRET_HEADER, run_workers

TOKEN = "4343:worker-kill-token"
SECRET = "worker-kill-secret"
USERS = 20
# Each step is answered with one plain message; "/dacai" then "Hoan Kiem" counts an install.
SCRIPT = ("/start", "het pin", "/dacai", "Hoan Kiem", "bluetooth", "quyen vi tri")
LEASE_SECONDS = 2


async def test_a_killed_worker_loses_and_repeats_nothing(fresh_pg_database):
    accepted: dict[int, int] = {}  # update id -> user id, once the webhook answered 200
    refused: defaultdict[int, list] = defaultdict(list)  # update id -> answers before that 200
    async with (
        TelegramStandin(token=TOKEN) as tg,
        run_workers(tg, fresh_pg_database, SECRET, OUTBOX_LEASE_SECONDS=str(LEASE_SECONDS)) as service,
    ):
        url = f"{service.base}/webhooks/telegram"
        before = service.worker_pids()
        assert len(before) == 2, before
        async with aiohttp.ClientSession() as http:

            async def deliver(update: dict, user_id: int) -> None:
                """As Telegram does: again, after a pause, until the answer is 200."""
                for _ in range(200):
                    try:
                        async with http.post(url, json=update, headers={SECRET_HEADER: SECRET}) as response:
                            status = response.status
                    except aiohttp.ClientError as exc:
                        status = type(exc).__name__
                    if status == 200:
                        accepted[update["update_id"]] = user_id
                        return
                    refused[update["update_id"]].append(status)
                    await asyncio.sleep(0.1)
                raise AssertionError(f"update {update['update_id']} never accepted: {refused[update['update_id']]}")

            async def user(n: int) -> None:
                fake = tg.user(9300 + n)
                for text_ in SCRIPT:
                    await deliver(fake.build_text(text_), fake.id)

            async def kill() -> int:
                while len(accepted) < USERS * len(SCRIPT) // 3:
                    await asyncio.sleep(0.005)
                victim = random.choice(sorted(before))
                os.kill(victim, signal.SIGKILL)
                return victim

            victim, *_ = await asyncio.gather(kill(), *(user(n) for n in range(USERS)))

        # The supervisor noticed and started a new worker in its place.
        for _ in range(200):
            after = service.worker_pids()
            if len(after) == 2 and victim not in after:
                break
            await asyncio.sleep(0.1)
        assert victim not in after and len(after) == 2, (victim, after, service.log())
        await service.wait_ready()
        assert f"(pid {victim}) exited with -9 after" in service.log()  # and restarted after its pause

        engine = create_engine(fresh_pg_database)
        try:
            for _ in range(300):  # the dead worker's unsent replies wait for its leases to run out
                async with engine.connect() as conn:
                    unsent = await conn.scalar(
                        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
                    )
                if not unsent:
                    break
                await asyncio.sleep(0.1)
            assert not unsent, f"{unsent} replies never sent\n{service.log()}"
            async with engine.connect() as conn:
                processed = set((await conn.scalars(select(ProcessedUpdate.update_id))).all())
                rows = (
                    await conn.execute(
                        select(
                            OutboxMessage.update_id, OutboxMessage.chat_id, OutboxMessage.body, OutboxMessage.attempts
                        ).order_by(OutboxMessage.id)
                    )
                ).all()
                installs = Counter((await conn.scalars(select(SelfReportedInstall.commune_code))).all())
                counted = await conn.scalar(select(func.sum(CommuneDailyCount.self_reported_installs)))
        finally:
            await engine.dispose()

    assert len(accepted) == USERS * len(SCRIPT)
    assert processed == {str(u) for u in accepted}  # every acknowledged update was handled...
    per_update = Counter(r.update_id for r in rows)
    assert set(per_update) == processed and set(per_update.values()) == {1}  # ...once: one reply each
    assert installs == {"00070": USERS} and counted == USERS  # each user's install counted once, in Hoàn Kiếm

    # Each user got each reply; only a reply the killed worker had handed to Telegram but not
    # yet marked sent (its row leased twice) can arrive twice: the Bot API has no idempotency key.
    repeated = 0
    chats = [str(9300 + n) for n in range(USERS)]
    sent = {chat: [call.text for call in tg.sent(int(chat))] for chat in chats}
    # A person's replies, in the order of the script each person followed, waiting for every 200.
    script = {chat: list(enumerate(r.body["key"] for r in rows if r.chat_id == chat)) for chat in chats}
    words = words_by_label(script, sent)
    for chat in chats:
        expected = [
            (words[label], r.attempts)
            for label, r in zip(script[chat], [r for r in rows if r.chat_id == chat], strict=True)
        ]
        got = sent[chat]
        position = 0
        for text_, attempts in expected:
            assert got[position : position + 1] == [text_], (chat, expected, got)
            position += 1
            if attempts > 1 and got[position : position + 1] == [text_]:
                repeated += 1
                position += 1
        assert position == len(got), (chat, expected, got)
    retaken = sum(1 for r in rows if r.attempts > 1)
    print(
        f"\nkilled worker pid {victim} after {USERS * len(SCRIPT) // 3} updates; "
        f"{len(refused)} updates redelivered ({sum(len(v) for v in refused.values())} refusals); "
        f"{retaken} replies taken over from the dead worker, {repeated} of them sent twice"
    )
