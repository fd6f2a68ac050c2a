"""SQLite on the event loop's thread (storage.sqlite_driver): waiting for another connection's
write lock must leave the loop free, end when the lock is released, and give up after the
engine's timeout with nothing half-written."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from storage.db import create_engine


def _url(tmp_path) -> str:
    return f"sqlite:///{tmp_path}/driver.db"


async def _table(engine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"))


async def _count(engine) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(text("SELECT count(*) FROM notes"))).scalar_one()


def _hold_write_lock(path: str, seconds: float, taken: threading.Event) -> None:
    """Another process's writer, as sqlite3 itself: the write lock held for `seconds`."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO notes (body) VALUES ('other')")
    taken.set()
    time.sleep(seconds)
    other.execute("COMMIT")
    other.close()


async def _locked_by_another(tmp_path, seconds: float) -> threading.Thread:
    """Another process's writer holding the write lock for `seconds`, from now; join the thread."""
    taken = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(f"{tmp_path}/driver.db", seconds, taken))
    holder.start()
    await asyncio.to_thread(taken.wait)
    return holder


class LoopWatch:
    """The longest time the event loop went without running a task that ticks every 5 ms."""

    async def __aenter__(self) -> LoopWatch:
        self.longest, self._stop = 0.0, asyncio.Event()
        self._task = asyncio.create_task(self._tick())
        await asyncio.sleep(0.02)  # ticking before the watched code runs
        return self

    async def _tick(self) -> None:
        last = time.monotonic()
        while not self._stop.is_set():
            await asyncio.sleep(0.005)
            now = time.monotonic()
            self.longest, last = max(self.longest, now - last), now

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        await self._task


def test_every_sqlite_engine_gets_the_loop_driver():
    # (the URLs themselves: tests/bot/test_settings_and_logs.py)
    assert create_engine("sqlite:///:memory:").dialect.driver == "bluezone"


async def test_waiting_for_the_lock_leaves_the_loop_free(tmp_path):
    engine = create_engine(_url(tmp_path))
    await _table(engine)
    holder = await _locked_by_another(tmp_path, 0.6)
    async with LoopWatch() as loop:
        started = time.monotonic()
        async with engine.begin() as conn:  # BEGIN IMMEDIATE: waits for the other writer
            await conn.execute(text("INSERT INTO notes (body) VALUES ('mine')"))
        waited = time.monotonic() - started
    await asyncio.to_thread(holder.join)
    assert await _count(engine) == 2  # the other writer's row and this one, each once
    # It did wait for the other writer (0.6 s) ...
    assert waited > 0.3
    # ... in asyncio sleeps: the loop ran other work all along. sqlite3's own busy handler would
    # have held it for the whole wait (a gap of about 0.6 s).
    assert loop.longest < 0.3
    await engine.dispose()


async def test_two_engines_interleaving_in_one_loop_both_commit(tmp_path):
    """Two workers' engines in one loop: one holds the write lock across an await; the other
    waits for it without holding the loop, so the first can finish (a busy handler on the loop's
    thread would deadlock here until its timeout)."""
    first, second = create_engine(_url(tmp_path)), create_engine(_url(tmp_path))
    await _table(first)
    holding = asyncio.Event()

    async def slow_writer() -> None:
        async with first.begin() as conn:
            await conn.execute(text("INSERT INTO notes (body) VALUES ('slow')"))
            holding.set()
            await asyncio.sleep(0.2)

    async def quick_writer() -> None:
        await holding.wait()
        async with second.begin() as conn:
            await conn.execute(text("INSERT INTO notes (body) VALUES ('quick')"))

    async with LoopWatch() as loop:
        await asyncio.wait_for(asyncio.gather(slow_writer(), quick_writer()), timeout=10)
    assert loop.longest < 0.15  # the slow writer's 0.2 s wait was the loop's to use
    async with first.connect() as conn:
        bodies = (await conn.execute(text("SELECT body FROM notes ORDER BY id"))).scalars().all()
    assert bodies == ["slow", "quick"]
    await first.dispose()
    await second.dispose()


async def test_gives_up_after_the_timeout_with_nothing_written(tmp_path):
    engine = create_engine(_url(tmp_path), connect_args={"timeout": 0.2})
    await _table(engine)
    holder = await _locked_by_another(tmp_path, 1.5)
    started = time.monotonic()
    with pytest.raises(OperationalError, match="database is locked"):
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO notes (body) VALUES ('mine')"))
    assert 0.15 < time.monotonic() - started < 1.4
    await asyncio.to_thread(holder.join)
    assert await _count(engine) == 1  # only the other writer's
    await engine.dispose()


async def test_a_statement_outside_a_transaction_waits_too(tmp_path):
    """A single statement (storage.db.single_statements: a claim, a sent mark) is its own
    transaction: it waits for the lock like BEGIN IMMEDIATE does."""
    from storage.db import single_statements

    engine = create_engine(_url(tmp_path))
    await _table(engine)
    holder = await _locked_by_another(tmp_path, 0.3)
    async with single_statements(engine).begin() as conn:
        await conn.execute(text("INSERT INTO notes (body) VALUES ('mine')"))
    await asyncio.to_thread(holder.join)
    assert await _count(engine) == 2
    await engine.dispose()
