"""One account flooding the bot cannot slow others: beyond its burst its updates are dropped
before they reach the database, after a single "slow down" notice."""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.ratelimit import FloodGuard, Verdict
from bot.settings import Settings
from handlers.types import Incoming, Kind
from storage.models import ProcessedUpdate
from tests.harness import ChatDriver


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_one_warning_then_drops_then_refills():
    clock = Clock()
    guard = FloodGuard(burst=20, window=10, clock=clock)
    verdicts = [guard.check("telegram", "1") for _ in range(25)]
    assert verdicts[:20] == [Verdict.ALLOW] * 20
    assert verdicts[20:] == [Verdict.WARN] + [Verdict.DROP] * 4
    assert guard.check("telegram", "2") is Verdict.ALLOW  # others are not affected
    clock.now += 1.0  # two tokens back
    assert [guard.check("telegram", "1") for _ in range(3)] == [Verdict.ALLOW, Verdict.ALLOW, Verdict.DROP]
    clock.now += 10.0
    assert guard.check("telegram", "1") is Verdict.ALLOW


@given(st.lists(st.floats(0, 2), max_size=200))
def test_never_more_than_the_rate_allows(gaps):
    clock = Clock()
    guard = FloodGuard(burst=20, window=10, clock=clock)
    allowed = 0
    for gap in gaps:
        clock.now += gap
        allowed += guard.check("c", "u") is Verdict.ALLOW
    assert allowed <= 20 + clock.now * 2 + 1e-9


def test_forgets_the_least_recently_seen():
    guard = FloodGuard(max_keys=3)
    for user in "abcd":
        guard.check("c", user)
    assert len(guard._buckets) == 3 and ("c", "a") not in guard._buckets


async def test_a_flood_is_dropped_before_the_database_and_others_are_answered(service):
    ChatDriver(service, user_id="flooder")  # registers the in-process test channel
    calm = ChatDriver(service, user_id="calm")

    def update(user: str, n: int) -> Incoming:
        return Incoming(
            channel="test", user_id=user, chat_id=user, update_id=f"{user}-{n}", kind=Kind.TEXT, text="het pin"
        )

    await asyncio.gather(
        *(service.receive(update("flooder", n)) for n in range(200)),
        *(service.receive(update("calm", n)) for n in range(5)),
    )
    await service.courier.drain()
    await service.courier.sweep()  # a reply queued behind one being sent goes with the sweep, as in service
    async with service.sessions() as db:
        handled = Counter(u.split("-")[0] for u in (await db.scalars(select(ProcessedUpdate.update_id))).all())
    assert handled == {"flooder": 21, "calm": 5}  # 20 in the burst and the one that was told to slow down
    sent = calm.channel.sent
    assert len([s for s in sent if s.chat_id == "calm"]) == 5
    notices = [s for s in sent if s.chat_id == "flooder" and s.message.key == "menu.too_fast"]
    assert len(notices) == 1


async def test_flood_burst_0_turns_the_guard_off(settings, db_engine):
    from bot.service import Service

    assert Settings.from_env({}).flood_burst == 20
    assert Settings.from_env({"FLOOD_BURST": "0"}).flood_burst == 0
    service = Service(dataclasses.replace(settings, flood_burst=0), db_engine=db_engine)
    try:
        ChatDriver(service, user_id="flooder")
        await asyncio.gather(
            *(
                service.receive(
                    Incoming(
                        channel="test",
                        user_id="flooder",
                        chat_id="flooder",
                        update_id=f"off-{n}",
                        kind=Kind.TEXT,
                        text="het pin",
                    )
                )
                for n in range(30)
            )
        )
        async with service.sessions() as db:
            handled = (
                await db.scalars(select(ProcessedUpdate.update_id).where(ProcessedUpdate.update_id.like("off-%")))
            ).all()
        assert len(handled) == 30
    finally:
        await service.stop()


def test_an_update_that_could_not_be_handled_gives_its_token_back():
    guard = FloodGuard(burst=2, window=10, clock=Clock())
    for _ in range(50):  # the same update retried through a database outage
        assert guard.check("telegram", "1") is Verdict.ALLOW
        guard.refund("telegram", "1")
    assert guard.check("telegram", "1") is Verdict.ALLOW


def test_dropping_tells_in_advance_what_check_would_drop_without_counting():
    clock = Clock()
    guard = FloodGuard(burst=2, window=10, clock=clock)
    assert not guard.dropping("telegram", "1")  # never seen
    assert [guard.check("telegram", "1") for _ in range(3)] == [Verdict.ALLOW, Verdict.ALLOW, Verdict.WARN]
    assert guard.dropping("telegram", "1") and not guard.dropping("telegram", "2")
    assert guard.check("telegram", "1") is Verdict.DROP
    clock.now += 5  # one token back
    assert not guard.dropping("telegram", "1") and guard.check("telegram", "1") is Verdict.ALLOW


async def test_a_flood_on_the_webhook_is_turned_away_before_parsing(aiohttp_client, service, monkeypatch):
    """Past the notice, a flooder's posts get 200 without the update being parsed or handled."""
    from bot.settings import Secret
    from bot.web import init_app
    from tests.standins.telegram_api import TelegramStandin

    async with TelegramStandin(token="1:flood") as tg:
        cfg = service.settings.__class__(
            **{
                **vars(service.settings),
                "telegram_bot_token": Secret("1:flood"),
                "telegram_api_base_url": tg.base_url,
                "public_base_url": "http://127.0.0.1:1",
                "telegram_webhook_secret": Secret("flood-secret"),
            }
        )
        service.settings = service.engine.settings = cfg
        service.configure_channels()
        client = await aiohttp_client(init_app(cfg, service))
        channel = service.channels["telegram"]
        parsed = []
        real_parse = channel.parse
        monkeypatch.setattr(channel, "parse", lambda data: parsed.append(data["update_id"]) or real_parse(data))
        service.flood_guard.guard.clock = Clock()  # no refill while the posts go in, however slow the machine
        flooder = tg.user(4242)
        for _ in range(40):
            response = await client.post(
                "/webhooks/telegram",
                json=flooder.build_text("het pin"),
                headers={"X-Telegram-Bot-Api-Secret-Token": "flood-secret"},
            )
            assert response.status == 200
        await service.courier.drain()
        async with service.sessions() as db:
            handled = await db.scalar(select(func.count()).select_from(ProcessedUpdate))
    assert handled == 21 and len(parsed) == 21  # 20 and the "slow down" notice; 19 never parsed
