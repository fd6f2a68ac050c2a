"""SQLite for the async engine, run on the event loop's own thread.

aiosqlite gives every connection a thread and hands each call to it: cursor(), execute(),
fetchall() and close() were four round trips between threads per statement, each waking the
event loop through its self-pipe. Measured under the webhook benchmark that was about 36 hand-offs
and 5 ms of CPU per update, where the statements themselves cost about 3 ms; and the worker's
transactions were serialized anyway (every transaction takes the write lock up front, see
storage.db). So SQLite runs here as Python's sqlite3 does everywhere else, synchronously: a
statement on a local file in WAL mode (synchronous=NORMAL, no fsync on commit) takes tens of
microseconds, less than one hand-off.

What must never block the loop is waiting for a lock, so the driver's connections have no busy
timeout. A statement that finds the database locked by another connection (another worker
process, the CLI, a second session of this one) is retried after an asyncio sleep, with a growing
pause, until the engine's `timeout` (seconds, as sqlite3's own) has passed: the loop serves
everyone else meanwhile. Only a statement that starts its own transaction is retried this way
(BEGIN IMMEDIATE, a statement outside any transaction, COMMIT): one inside a transaction that
already holds a snapshot cannot be, and SQLite does not make those wait (it answers at once).

The price: a long query (an export over every visit) holds the loop for its duration instead of
a thread. The bot's queries are indexed and short; the longest, the country's tally, takes
10-15 ms at 10 million visits (docs/benchmarks.md).

The dialect is registered as `sqlite+bluezone`; storage.db.normalize_url gives every SQLite URL
this driver.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from typing import Any

from sqlalchemy import pool
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL
from sqlalchemy.util.concurrency import await_

DRIVER = "bluezone"

# The first pause after "database is locked", doubled up to the last: a writer's transaction
# here lasts about a millisecond, so most waits end after the first or second pause.
_FIRST_PAUSE = 0.001
_LONGEST_PAUSE = 0.05


def _is_busy(error: sqlite3.OperationalError) -> bool:
    # SQLITE_BUSY and its extended codes (SQLITE_BUSY_RECOVERY, _SNAPSHOT, _TIMEOUT) share the low byte.
    return (getattr(error, "sqlite_errorcode", 0) & 0xFF) == sqlite3.SQLITE_BUSY


class _Connection(sqlite3.Connection):
    """sqlite3's connection, whose waits for the lock are asyncio sleeps (see the module's doc)."""

    wait_for_lock: float = 5.0

    def cursor(self, factory: Any = None) -> Any:
        return super().cursor(factory or _Cursor)

    def commit(self) -> None:
        # In WAL mode COMMIT never waits. Where SQLite refuses WAL (a network file system keeps the
        # rollback journal) COMMIT waits for readers: the transaction stays open and COMMIT may be
        # tried again.
        _retrying(self, super().commit)


async def _nothing() -> None:
    pass


class _Cursor(sqlite3.Cursor):
    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        # SQLAlchemy's AsyncConnection.execute insists that the driver awaited something (to catch
        # a sync driver by mistake): a coroutine that returns at once, a greenlet switch and back
        # (about a microsecond), never a trip through the event loop.
        await_(_nothing())
        connection: Any = self.connection
        if connection.in_transaction:
            return super().execute(sql, parameters)
        return _retrying(connection, super().execute, sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> Any:
        await_(_nothing())
        connection: Any = self.connection
        if connection.in_transaction:
            return super().executemany(sql, seq_of_parameters)
        # The parameters may be an iterator, consumed by a failed attempt: kept as a list.
        rows = list(seq_of_parameters)
        return _retrying(connection, super().executemany, sql, rows)

    async def _async_soft_close(self) -> None:
        """What SQLAlchemy's async results call on an adapted driver's cursor before handing it
        to sync code (to close a thread-bound cursor, keeping its rows): a sqlite3 cursor is read
        on this thread as it is, like pysqlite's everywhere."""


def _retrying(connection: _Connection, call: Any, *args: Any) -> Any:
    deadline: float | None = None
    pause = _FIRST_PAUSE
    while True:
        try:
            return call(*args)
        except sqlite3.OperationalError as error:
            if not _is_busy(error):
                raise
            now = time.monotonic()
            if deadline is None:
                deadline = now + connection.wait_for_lock
            if now >= deadline:
                raise
            await_(asyncio.sleep(min(pause, deadline - now)))
            pause = min(pause * 2, _LONGEST_PAUSE)


class SQLiteDialect_bluezone(SQLiteDialect_pysqlite):
    """pysqlite's dialect, marked async (so that create_async_engine takes it) and with the
    asyncio-aware pool; its connections are `_Connection`s."""

    driver = DRIVER
    is_async = True
    supports_statement_cache = True

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        if cls._is_url_file_db(url):
            return pool.AsyncAdaptedQueuePool
        return pool.StaticPool

    def connect(self, *cargs: Any, **cparams: Any) -> Any:
        wait = float(cparams.pop("timeout", _Connection.wait_for_lock))
        # Connections are made and used on the loop's thread; the pool may close one from a
        # garbage collector's finalizer elsewhere, which sqlite3 would refuse.
        cparams["check_same_thread"] = False
        # (typeshed's overloads cannot see the database and options unpacked from the URL)
        connection: _Connection = sqlite3.connect(*cargs, timeout=0, factory=_Connection, **cparams)  # type: ignore[call-overload]
        connection.wait_for_lock = wait
        return connection


registry.register(f"sqlite.{DRIVER}", __name__, "SQLiteDialect_bluezone")
