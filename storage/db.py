"""Database engines and sessions: SQLite (WAL) for one machine, PostgreSQL through asyncpg for many."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from sqlalchemy import bindparam, event, or_, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult, Result, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session

from storage import sqlite_driver
from storage.models import utcnow


def rows_changed(result: Result[Any]) -> int:
    """How many rows an INSERT/UPDATE/DELETE touched. `execute()` is typed as returning a Result;
    for those statements it is a CursorResult, which has the count."""
    return cast(CursorResult[Any], result).rowcount


def rows_of(result: Result[Any]) -> list[Any]:
    """A grouped query's rows for unpacking. Its columns mix SQL functions (a count, a local day),
    which the type stubs see as `object`; the caller converts each value it reads."""
    return list(result.all())


DEFAULT_DATABASE_URL = "sqlite:///./data/bluezone.db"


def normalize_url(url: str) -> str:
    """Accept the URLs people paste (postgres://, postgresql://, sqlite:///, sqlite+aiosqlite:///)
    and pick the async driver: asyncpg, or SQLite on the event loop's thread (storage.sqlite_driver)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif backend == "sqlite":
        parsed = parsed.set(drivername=f"sqlite+{sqlite_driver.DRIVER}")
    else:
        raise ValueError(f"unsupported database {backend!r}: use SQLite or PostgreSQL")
    return parsed.render_as_string(hide_password=False)


def create_engine(url: str = DEFAULT_DATABASE_URL, *, schema: str | None = None, **kwargs: Any) -> AsyncEngine:
    """An async engine; `schema` sets PostgreSQL's search_path (tests use a throwaway schema)."""
    url = normalize_url(url)
    parsed = make_url(url)
    # A failed statement's error (logged, with its traceback) must not carry what people typed.
    kwargs.setdefault("hide_parameters", True)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # How long a statement waits for another connection's write lock (in asyncio sleeps, not
        # sqlite3's busy handler, which would hold the event loop: see storage.sqlite_driver).
        waits = {"timeout": 30, **kwargs.pop("connect_args", {})}
        engine = create_async_engine(url, connect_args=waits, **kwargs)
        _configure_sqlite(engine)
        return engine
    connect_args: dict[str, Any] = {}
    if schema:
        connect_args["server_settings"] = {"search_path": schema}
    # No ping on every checkout (a round trip per transaction): a connection that died with its
    # server fails on first use instead, SQLAlchemy then invalidates the whole pool, and that one
    # request is answered 503 and retried by the messenger. Connections are renewed every half
    # hour, before a firewall or proxy drops them for being idle.
    kwargs.setdefault("pool_recycle", 1800)
    kwargs.setdefault("pool_size", 10)
    return create_async_engine(url, connect_args=connect_args, **kwargs)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take control of transactions so that BEGIN IMMEDIATE below is what actually starts them.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(conn: Any) -> None:
        # A deferred transaction that later writes can fail with "database is locked" when two
        # processes upgrade at once; taking the write lock up front makes them queue instead.
        # A single statement (`single_statements`) is its own transaction and needs neither.
        if not conn.get_execution_options().get(SINGLE_STATEMENT):
            conn.exec_driver_sql("BEGIN IMMEDIATE")


class BotSession(Session):
    """The sessions of the bot's own session makers: what storage modules hook into with events
    (roles.py forgets the grants it read at a transaction's end) is hooked into these only, not
    into every SQLAlchemy session in the process (a test's, alembic's, another library's)."""


async def ping(session: AsyncSession) -> None:
    """One round trip to the database (the health check): raises when it does not answer."""
    await session.execute(text("SELECT 1"))


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=BotSession)


SINGLE_STATEMENT = "bluezone_single_statement"


def single_statements(engine: AsyncEngine) -> AsyncEngine:
    """The engine for a transaction of one statement (a claim, marking a message sent): on
    PostgreSQL in autocommit, one round trip instead of BEGIN, the statement and COMMIT; on
    SQLite without BEGIN IMMEDIATE (the statement is its own transaction, waiting for the write
    lock as any other). Used with `.begin()`, or `.connect()` for a read."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return engine.execution_options(**{SINGLE_STATEMENT: True})


# The execution option of a statement that only inserts, though it is a SELECT (data-modifying
# CTEs): the counters kept for COMMIT (storage.counters) need not be added before it.
INSERTS_ONLY = "bluezone_inserts_only"

_BUILT: dict[tuple, Any] = {}


def built_once(session: AsyncSession | Session, key: Any, build: Callable[[], Any]) -> Any:
    """A statement that depends on the session's dialect (an upsert), built on first use per
    dialect and `key` and kept: building a statement and its cache key costs more CPU than
    running it. Statements that do not depend on the dialect are simply built at import."""
    full = (session.get_bind().dialect.name, key)
    stmt = _BUILT.get(full)
    if stmt is None:
        stmt = _BUILT[full] = build()
    return stmt


def dialect_insert(session: AsyncSession | Session, table: Any) -> Any:
    """INSERT with the dialect's ON CONFLICT support (both SQLite and PostgreSQL have it)."""
    name = session.get_bind().dialect.name
    return (postgresql.insert if name == "postgresql" else sqlite.insert)(table)


def is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def claim_statement(model: Any, *conditions: Any) -> Any:
    """The UPDATE ... RETURNING that leases one row of a queue (the outbox, the inbound queue) to
    this worker, unless another worker holds it or `conditions` say it is not its turn. Built once
    per queue, at import: building a statement and its cache key on every claim cost more CPU than
    running it. A Core statement returning the row's columns: one statement, so it can run
    outside a transaction (`single_statements`). Parameters: row_id, now, until (see `claim_row`)."""
    table = model.__table__
    return (
        update(table)
        .where(
            table.c.id == bindparam("row_id"),
            or_(table.c.claimed_until.is_(None), table.c.claimed_until < bindparam("now")),
            *conditions,
        )
        .values(claimed_until=bindparam("until"), attempts=table.c.attempts + 1)
        .returning(*table.c)  # the row as claimed, in the same round trip
    )


async def claim_row(db: AsyncSession | AsyncConnection, statement: Any, row_id: int, lease: Any) -> Any:
    """Lease one queue row with its `claim_statement` until now + `lease`: the row (its columns
    as attributes), or None."""
    now = utcnow()
    return (await db.execute(statement, {"row_id": row_id, "now": now, "until": now + lease})).one_or_none()


def _connection_errors() -> tuple[type[BaseException], ...]:
    import asyncpg.exceptions as pg  # type: ignore[import-untyped]  # asyncpg ships no type information

    return (
        OperationalError,
        InterfaceError,
        ConnectionError,
        OSError,
        TimeoutError,
        pg.InterfaceError,
        pg.PostgresConnectionError,
        pg.CannotConnectNowError,
        pg.AdminShutdownError,
        pg.CrashShutdownError,
        pg.TooManyConnectionsError,
    )


_CONNECTION_ERRORS = _connection_errors()


def is_infrastructure_error(exc: BaseException | None) -> bool:
    """Errors of the database connection itself (down, restarting, dropped mid-query), found
    anywhere in the exception's chain: the update must be retried, not answered."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, _CONNECTION_ERRORS):
            return True
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            return True
        exc = getattr(exc, "orig", None) or exc.__cause__ or exc.__context__
    return False
