"""What workers share (bot/coordination.py): one send budget and one flood guard, in memory
shared by a machine's processes or through Redis; Redis going away and coming back; the
announcements' lease passing on when its holder dies. Several instances in one test stand for
several workers (each RedisLink is a connection of its own, as a worker on another machine has)."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import logging
import multiprocessing
import time
from urllib.parse import urlsplit

import pytest
import redis.asyncio

from bot.coordination import (
    AnnouncementLease,
    Coordination,
    LocalShared,
    RedisFloodGuard,
    RedisLink,
    RedisPacer,
    SharedFloodGuard,
    SharedPacer,
)
from bot.ratelimit import Pacer, Verdict
from bot.settings import Secret
from storage.db import single_statements
from tests.standins.tcp_proxy import CuttableProxy

ALLOW, WARN, DROP = Verdict.ALLOW, Verdict.WARN, Verdict.DROP


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- one machine: shared memory ----------------------------------------------------------------


def _turns(pacers: list, clock: Clock, sends: int) -> list[float]:
    """When each of `sends` sends went, taken by the pacers in turn, each waiting as told."""
    taken = []
    for n in range(sends):
        while (wait := pacers[n % len(pacers)].try_take()) > 0:
            clock.now += wait
        taken.append(clock.now - 1000.0)
    return taken


def test_the_workers_of_a_machine_take_turns_from_one_pace():
    shared = LocalShared(3)
    clock = Clock()
    workers = [SharedPacer(shared, "telegram", 30) for _ in range(3)]
    for worker in workers:
        worker.clock = clock
    # One pace for the three: 90 sends over 89/30 s; with a pace each, over 29/30 s.
    assert _turns(workers, clock, 90) == pytest.approx([n / 30 for n in range(90)])
    alone = Pacer(30)
    alone.clock = clock
    assert alone.try_take() == 0  # a process's own pace is not the machine's


def test_a_burst_after_a_pause_then_the_pace():
    clock = Clock()
    pacer = Pacer(10, burst=3, clock=clock)
    assert _turns([pacer], clock, 5) == pytest.approx([0, 0, 0, 0.1, 0.2])
    clock.now += 60
    assert [pacer.try_take() for _ in range(4)][:3] == [0, 0, 0]


def test_the_machines_budgets_are_apart():
    shared = LocalShared(2)
    clock = Clock()
    telegram, zalo = SharedPacer(shared, "telegram", 10), SharedPacer(shared, "zalo_oa", 10)
    telegram.clock = zalo.clock = clock
    assert telegram.try_take() == 0 and telegram.try_take() == pytest.approx(0.1)
    assert zalo.try_take() == 0


_LAST_READING = [0.0]


def _reading() -> float:
    _LAST_READING[0] = time.monotonic()
    return _LAST_READING[0]


def _take_turns(shared: LocalShared, turns: int, taken) -> None:
    pacer = SharedPacer(shared, "telegram", 100)
    pacer.clock = _reading  # read under the lock: the moment the turn was taken
    for _ in range(turns):
        while (wait := pacer.try_take()) > 0:
            time.sleep(wait)
        taken.put(_LAST_READING[0])


@pytest.mark.slow
def test_spawned_processes_share_the_pace():
    """As `run --workers 3` hands it over: the supervisor's LocalShared, passed to spawned
    processes, on one clock (CLOCK_MONOTONIC is the machine's)."""
    context = multiprocessing.get_context("spawn")
    shared = LocalShared(3)
    taken = context.Queue()
    processes = [context.Process(target=_take_turns, args=(shared, 40, taken)) for _ in range(3)]
    for process in processes:
        process.start()
    turns = sorted(taken.get(timeout=60) for _ in range(120))
    for process in processes:
        process.join(timeout=30)
    # 10 ms apart at least, whichever process took them; with a pace each, three at a time.
    assert min(b - a for a, b in itertools.pairwise(turns)) >= 0.01 - 1e-9


def test_a_machines_workers_count_one_flood_per_person():
    shared = LocalShared(2)
    one, two = SharedFloodGuard(shared, burst=4), SharedFloodGuard(shared, burst=4)
    verdicts = [(one if n % 2 else two).check("telegram", "7") for n in range(6)]
    assert verdicts == [ALLOW] * 4 + [WARN, DROP]
    assert one.dropping("telegram", "7") and two.dropping("telegram", "7")
    assert one.check("telegram", "8") is ALLOW  # others are not affected
    two.refund("telegram", "7")
    assert one.check("telegram", "7") is ALLOW


def test_a_worker_killed_holding_the_lock_does_not_stop_the_others(caplog):
    """SIGKILL (or the OOM killer) inside the few operations under the lock leaves it held for
    good: the others go on at their share of the budget, each with its own flood guard."""
    shared = LocalShared(3)
    clock = Clock()
    pacer = SharedPacer(shared, "telegram", 30)
    pacer.clock = pacer.own_share.clock = clock
    guard = SharedFloodGuard(shared, burst=2)
    assert shared.lock.acquire()  # the worker that was killed holding it
    started = time.monotonic()
    assert _turns([pacer], clock, 3) == pytest.approx([0, 0.1, 0.2])  # 10 a second: a third of 30
    assert [guard.check("telegram", "5") for _ in range(3)] == [ALLOW, ALLOW, WARN]
    assert guard.dropping("telegram", "5")
    assert time.monotonic() - started < 2  # one wait for the lock, not one per send
    assert sum("stuck" in r.getMessage() for r in caplog.records) == 1


def test_a_single_process_keeps_its_own_limits():
    coordination = Coordination(None)
    assert type(coordination.budget("telegram", 29, 3)) is Pacer and not coordination.shared
    assert coordination.budget("telegram", 0) is None  # no limit of its own
    assert coordination.flood_guard(0) is None


# --- several machines: Redis -------------------------------------------------------------------


def _links(url: str, count: int) -> list[RedisLink]:
    return [RedisLink(Secret(url), f"worker-{n}", local_workers=1) for n in range(count)]


async def _close(links: list[RedisLink]) -> None:
    for link in links:
        await link.stop()


async def test_workers_on_several_machines_take_turns_through_redis(redis_url):
    links = _links(redis_url, 3)
    try:
        assert await links[0].pace("telegram", 1 / 30, 0) == 0
        # The next turn is 1/30 s on, for another worker as for this one.
        assert 0 < await links[1].pace("telegram", 1 / 30, 0) <= 1 / 30
        assert 0 < await links[2].pace("telegram", 1 / 30, 0) <= 1 / 30
        pacers = [RedisPacer(link, "zalo_oa", 100) for link in links]
        started = time.monotonic()
        await asyncio.gather(*(pacers[n % 3].acquire() for n in range(60)))
        # 60 turns at 100 a second among the three cannot take less (a late one only adds).
        assert time.monotonic() - started >= 59 / 100 - 0.02
    finally:
        await _close(links)


async def test_workers_on_several_machines_count_one_flood_per_person(redis_url):
    links = _links(redis_url, 2)
    try:
        one, two = (RedisFloodGuard(link, burst=4) for link in links)
        verdicts = [await (one if n % 2 else two).check("telegram", "7") for n in range(6)]
        assert verdicts == [ALLOW] * 4 + [WARN, DROP]
        # Each learnt it from its own answer: the webhook's check before parsing needs no Redis.
        assert one.dropping("telegram", "7") and two.dropping("telegram", "7")
        assert not one.dropping("telegram", "8")
        await two.refund("telegram", "7")
        assert await one.check("telegram", "7") is ALLOW
    finally:
        await _close(links)


async def test_redis_going_away_falls_back_to_each_workers_share_logged_once(redis_url, caplog):
    caplog.set_level(logging.INFO, logger="bot.coordination")
    server = urlsplit(redis_url)
    async with CuttableProxy(server.hostname or "127.0.0.1", server.port or 6379) as proxy:
        url = f"redis://127.0.0.1:{proxy.port}{server.path}"
        links = _links(url, 3)
        try:
            for link in links:
                await link.heartbeat()
            worker = links[0]
            await worker.heartbeat()
            assert worker.up and worker.peers == 3
            pacer = RedisPacer(worker, "telegram", 300)
            guard = RedisFloodGuard(worker, burst=3)
            await pacer.acquire()

            proxy.cut()
            started = time.monotonic()
            for _ in range(20):
                await pacer.acquire()  # neither an error nor a hang
                await guard.check("telegram", "9")
            assert time.monotonic() - started < 5
            assert not worker.up
            assert pacer.fallback().per_second == pytest.approx(100)  # 300 among the 3 workers
            assert guard.dropping("telegram", "9")  # flooding this worker alone, it is guarded alone
            await worker.heartbeat()  # still away: no second line
            lost = [r for r in caplog.records if "redis unreachable" in r.getMessage()]
            assert len(lost) == 1 and lost[0].levelno == logging.WARNING

            proxy.restore()
            await worker.heartbeat()
            assert worker.up
            assert sum("redis answers again" in r.getMessage() for r in caplog.records) == 1
            direct = redis.asyncio.from_url(redis_url)
            before = await direct.get("bluezone:budget:telegram")
            await pacer.acquire()
            assert await direct.get("bluezone:budget:telegram") != before  # shared again
            assert await guard.check("telegram", "10") is ALLOW
            await direct.aclose()
        finally:
            await _close(links)


async def test_the_redis_password_never_reaches_the_log(caplog):
    caplog.set_level(logging.DEBUG)
    link = RedisLink(Secret("redis://:pw-never-logged@127.0.0.1:1/9"), "worker", local_workers=2)
    await link.heartbeat()
    pacer = RedisPacer(link, "telegram", 30)
    assert not link.up and pacer.fallback().per_second == 15
    await link.stop()
    assert "redis unreachable" in caplog.text and "pw-never-logged" not in caplog.text


# --- announcements: the lease ------------------------------------------------------------------


@pytest.mark.slow
async def test_the_announcements_pass_on_when_their_sender_dies(db_engine):
    engine = single_statements(db_engine)
    changes: dict[str, list[bool]] = {"a": [], "b": []}
    # Short, but with room for a late renewal on a loaded machine.
    quick = dict(duration=dt.timedelta(seconds=2), renewal=0.2)
    a = AnnouncementLease(engine, "a", changes["a"].append, **quick)
    b = AnnouncementLease(engine, "b", changes["b"].append, **quick)
    await a.start()
    await b.start()
    try:
        assert a.held and not b.held
        await asyncio.sleep(2.5)
        assert a.held and not b.held  # renewed before it ran out
        assert a._task is not None
        a._task.cancel()  # killed: neither renewed nor given up
        for _ in range(200):
            if b.held:
                break
            await asyncio.sleep(0.05)
        assert b.held and changes == {"a": [True], "b": [False, True]}
        await b.stop()  # a stop gives it up: the next worker takes it at once
        c = AnnouncementLease(engine, "c", lambda held: None, duration=dt.timedelta(minutes=1))
        assert await c.try_once() and not await b.try_once()
        assert changes["b"] == [False, True, False]
    finally:
        await a.stop()
        await b.stop()


async def test_only_the_lease_holder_sends_announcements(service, settings, db_engine, content):
    from bot.service import Service

    other = Service(settings, content=content, db_engine=db_engine, worker=2, workers=2)
    await service.start()
    await other.start()
    try:
        assert service.courier.sends_broadcasts and not other.courier.sends_broadcasts
        await service.stop()  # gives the lease up
        await other.announcements.try_once()
        assert other.courier.sends_broadcasts
    finally:
        await other.stop()
