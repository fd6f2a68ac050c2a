"""`bluezone-bot run --workers 3` on PostgreSQL keeps to one Telegram budget: a burst of new
people answered by three workers, against a stand-in that answers 429 beyond 30 sends a second.
(Before, each worker paced itself at 29 a second: 37% of such sends were answered 429.)"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.standins.telegram_api import SENDING_METHODS, TelegramStandin
from tests.workers import run_workers

pytestmark = [pytest.mark.e2e, pytest.mark.postgresql]

TOKEN = "4343:budget-test-token"
SECRET = "budget-test-secret"
PEOPLE = 240


async def _burst(base: str, tg: TelegramStandin, people: range) -> set[str]:
    served: set[str] = set()
    limit = asyncio.Semaphore(40)  # Telegram's default max_connections for a webhook

    async def post(user_id: int) -> None:
        async with limit, aiohttp.ClientSession() as http:
            async with http.post(
                f"{base}/webhooks/telegram",
                json=tg.user(user_id).build_text("/start"),
                headers={"X-Telegram-Bot-Api-Secret-Token": SECRET, "Connection": "close"},
            ) as response:
                assert response.status == 200
                served.add(response.headers["X-Bluezone-Worker"])

    await asyncio.gather(*(post(user_id) for user_id in people))
    return served


@pytest.fixture(params=["memory", "redis"])
def budget_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """The budget shared through the memory the supervisor makes, or through Redis (as machines
    share it)."""
    env = {"TELEGRAM_MAX_PER_SECOND": "29"}
    if request.param == "redis":
        env["REDIS_URL"] = request.getfixturevalue("redis_url")
    return env


async def test_three_workers_keep_to_one_telegram_budget(fresh_pg_database, budget_env):
    people = range(7000, 7000 + PEOPLE)
    async with TelegramStandin(token=TOKEN, username="bluezone_budget_bot", max_per_second=30) as tg:
        async with run_workers(tg, fresh_pg_database, SECRET, count=3, **budget_env) as service:
            served = await _burst(service.base, tg, people)
            for _ in range(120 * 10):
                if all(tg.sent(user_id) for user_id in people):
                    break
                await asyncio.sleep(0.1)
            sends = [c for c in tg.calls if c.method in SENDING_METHODS]
    rejected = sum(c.failed_with == 429 for c in sends)
    missing = [user_id for user_id in people if not tg.sent(user_id)]
    assert not missing, f"{len(missing)} never answered\n{service.final_log}"
    assert len(served) == 3, served  # all three workers answered some
    # One budget of 29 a second for the three: at most a stray 429 where a send delayed on its
    # way and the next on time fell in the stand-in's one-second window. Under 1% in the benchmark
    # (docs/benchmarks.md); 3% here, where other tests load the machine; a budget per worker: 33%.
    at = [round(c.at - sends[0].at, 2) for c in sends if c.failed_with == 429]
    assert rejected <= len(sends) * 0.03, f"{rejected} of {len(sends)} sends answered 429, at {at} s"
