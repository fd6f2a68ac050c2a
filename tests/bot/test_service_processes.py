"""`bluezone-bot run --workers N` as a service: a worker that cannot start is retried after growing
pauses until the service gives up (exit code 1); SIGTERM drains (not ready at once, the send
under way finishes); /metrics sums every worker, a dead one's counts included."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from storage.db import create_engine
from tests.standins.telegram_api import TelegramStandin
from tests.workers import SECRET_HEADER, free_port, run_workers

pytestmark = pytest.mark.e2e  # service processes against the Telegram stand-in

TOKEN = "4545:service-test-token"
SECRET = "service-test-secret"


def test_a_worker_that_cannot_start_is_retried_later_each_time_then_the_service_stops(sqlite_database):
    with socket.socket() as taken:  # the port held without SO_REUSEPORT: every worker's bind fails
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        process = subprocess.run(
            [sys.executable, "-m", "bot.cli", "run", "--workers", "2"],
            env={
                **os.environ,
                "DATABASE_URL": sqlite_database["url"],
                "HTTP_PORT": str(port),
                "WORKER_CRASH_LIMIT": "3",
                "LOG_LEVEL": "WARNING",
            },
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )
    log = process.stdout + process.stderr
    assert process.returncode == 1, log
    assert "address already in use" in log.lower()  # the worker's own error, in the log
    assert "exited with 1" in log and "restarting it in 1 s" in log and "restarting it in 2 s" in log
    assert re.search(r"worker \d \(pid \d+\) exited with 1, its exit number 3 within 10 minutes: stopping", log)
    assert "restarting it in 4 s" not in log  # the third crash stopped it, no fourth start
    assert time.monotonic() - started >= 3  # the pauses were kept: 1 s, then 2 s


def metrics_of(body: str) -> dict[tuple[str, tuple], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


async def wait_for_replies(tg: TelegramStandin, chats: list[int], timeout: float = 30.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if all(tg.sent(chat) for chat in chats):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(tg.describe_calls())


async def test_metrics_add_up_every_worker_even_a_dead_one(fresh_pg_database):
    metrics_port = free_port()
    private = f"http://127.0.0.1:{metrics_port}/metrics"
    key = ("bluezone_update_seconds_count", (("channel", "telegram"),))
    sent = ("bluezone_sends_total", (("channel", "telegram"), ("outcome", "sent")))
    async with (
        TelegramStandin(token=TOKEN, username="bluezone_service_bot") as tg,
        run_workers(tg, fresh_pg_database, SECRET, METRICS_ADDRESS=f"127.0.0.1:{metrics_port}") as service,
        aiohttp.ClientSession() as http,
    ):
        chats = list(range(9400, 9424))
        served = set()
        for chat in chats:  # a connection each: the kernel spreads them over both workers
            async with http.post(
                f"{service.base}/webhooks/telegram",
                json=tg.user(chat).build_text("/start"),
                headers={SECRET_HEADER: SECRET, "Connection": "close"},
            ) as response:
                assert response.status == 200
                served.add(response.headers["X-Bluezone-Worker"])
        await wait_for_replies(tg, chats)
        assert served == {"1", "2"}, served  # all on one worker: a 1 in 8 million chance

        async def scrape() -> tuple[str, dict]:
            async with http.get(private, headers={"Connection": "close"}) as response:
                assert response.status == 200
                return response.headers["X-Bluezone-Worker"], metrics_of(await response.text())

        answered = {}
        for _ in range(12):
            worker, figures = await scrape()
            answered[worker] = figures
        for figures in answered.values():  # whichever worker answers: the sum of both
            assert figures[key] == len(chats) and figures[sent] == len(chats)
        # Never on the public address without METRICS_TOKEN.
        async with http.get(f"{service.base}/metrics") as response:
            assert response.status == 404

        # A worker killed: the supervisor starts another; what the dead one counted stays.
        victim = max(service.worker_pids())
        os.kill(victim, signal.SIGKILL)
        for _ in range(300):
            pids = service.worker_pids()
            if victim not in pids and len(pids) == 2:
                break
            await asyncio.sleep(0.1)
        await service.wait_ready()
        for _ in range(6):
            _, figures = await scrape()
            assert figures[key] == len(chats) and figures[sent] == len(chats)
    assert "exited with -9" in service.log() and "restarting it in 1 s" in service.log()


async def test_sigterm_stops_readiness_first_and_finishes_the_send_under_way(fresh_pg_database):
    async with (
        TelegramStandin(token=TOKEN, username="bluezone_service_bot") as tg,
        run_workers(tg, fresh_pg_database, SECRET, SHUTDOWN_GRACE_SECONDS="2", TELEGRAM_SEND_TIMEOUT="20") as service,
        aiohttp.ClientSession() as http,
    ):
        tg.delay("sendMessage", 5)  # the reply is on its way for 5 s: longer than the grace
        async with http.post(
            f"{service.base}/webhooks/telegram",
            json=tg.user(9500).build_text("/start"),
            headers={SECRET_HEADER: SECRET},
        ) as response:
            assert response.status == 200
        await asyncio.sleep(0.3)  # the send has begun
        assert not tg.sent(9500)
        service.process.send_signal(signal.SIGTERM)
        statuses = []
        for _ in range(40):  # within the grace every worker still answers, and is not ready
            try:
                async with http.get(f"{service.base}/readyz", headers={"Connection": "close"}) as response:
                    statuses.append(response.status)
                    body = await response.json()
            except aiohttp.ClientError:
                break
            if response.status == 503:
                assert body["problems"] == ["draining"]
                break
            await asyncio.sleep(0.05)
        assert statuses and statuses[-1] == 503, statuses
        assert await service.stop() == 0
        assert len(tg.sent(9500)) == 1, service.log()  # the send under way finished before the worker exited
    engine = create_engine(fresh_pg_database)
    try:
        async with engine.connect() as conn:
            unsent = await conn.scalar(text("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))
    finally:
        await engine.dispose()
    assert unsent == 0  # and it was marked sent: nothing goes out twice after a restart
