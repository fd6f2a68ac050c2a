"""The statements every update runs, sent to asyncpg directly on PostgreSQL.

SQLAlchemy costs far more CPU per statement than the round trip itself: a one-row SELECT took
271–283 µs of the worker's CPU through the session against 91–93 µs this way, measured in one
process (bench_statements; docs/benchmarks.md). The statements of every update (its replies
queued with its counters, their "sent" marks, a new person's check-in, a check-in's answer) are
still written with SQLAlchemy and compiled by it, once per statement; here they are executed on
the driver's connection of the session's transaction, with SQLAlchemy's bind processors applied
to their parameters and its result processors to what they return.

The session's pending changes are flushed first, as its autoflush would (the bot's sessions
always autoflush). The statement goes
through the session as any other, with the same result, when counters are kept for COMMIT that
storage.counters would add before it (it reads or updates), when the transaction's connection
has not begun yet (SQLAlchemy begins with its first statement), while something listens to the
engine's statements (`before_cursor_execute`: tests and bench_statements count them), and on
SQLite.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from storage import counters
from storage.db import INSERTS_ONLY


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # the parameters in their positional order ($1, $2 ...)
    processors: tuple[Callable[[Any], Any] | None, ...]
    fixed: dict[str, Any]  # the values bound in the statement itself
    required: frozenset[str]  # the parameters each execution must give
    columns: tuple[Any, ...]  # the columns it returns, whose result processors apply


_COMPILED: dict[Any, _Compiled] = {}


def compiled(statement: Any, dialect: Dialect) -> _Compiled:
    """`statement` compiled for asyncpg, once (the hot statements are built once: a few dozen)."""
    key = (statement, dialect.name)
    found = _COMPILED.get(key)
    if found is not None:
        return found
    sql = statement.compile(dialect=dialect)
    if sql.literal_execute_params or sql.post_compile_params:
        raise ValueError("a statement rendered per execution (an expanding IN) cannot be run directly")
    names = tuple(sql.positiontup or ())
    processors = tuple(sql.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names)
    fixed = sql.construct_params(_check=False)
    required = frozenset(name for name in names if sql.binds[name].required)
    columns = tuple(getattr(statement, "exported_columns", ()))
    found = _COMPILED[key] = _Compiled(sql.string, names, processors, fixed, required, columns)
    return found


def arguments(plan: _Compiled, params: dict[str, Any]) -> list[Any]:
    """The statement's positional arguments: a parameter missing is an error, as through SQLAlchemy
    (an UPDATE without its values, or a misspelt name, would otherwise write NULL)."""
    missing = plan.required - params.keys()
    if missing:
        raise ValueError(f"a value is required for the parameters {sorted(missing)}")
    values = plan.fixed | params
    return [
        value if process is None else process(value)
        for value, process in zip((values[name] for name in plan.names), plan.processors, strict=True)
    ]


async def rows(
    session: AsyncSession, statement: Any, params: dict[str, Any], *, inserts_only: bool = False
) -> Sequence[Any]:
    """The rows `statement` returns in the session's transaction (index access: `row[0]`), their
    values as SQLAlchemy would hand them back (its result processors applied).

    `inserts_only`: the statement only inserts, so counters kept for COMMIT need not be added
    before it; also read from the statement's own execution option (storage.db.INSERTS_ONLY)."""
    inserts_only = inserts_only or bool(statement.get_execution_options().get(INSERTS_ONLY))
    driver = await _driver(session, inserts_only)
    if driver is None:
        return (await session.execute(statement, params)).all()
    plan = compiled(statement, session.get_bind().dialect)
    results = _RESULTS.get(plan.sql)
    if results is None:
        results = _RESULTS[plan.sql] = await _result_processors(driver, plan, session.get_bind().dialect)
    records = await driver.fetch(plan.sql, *arguments(plan, params))  # on failure, see _driver
    if not any(results):
        return records
    return [
        tuple(value if process is None else process(value) for value, process in zip(record, results, strict=True))
        for record in records
    ]


# The result processors of each statement's columns, as SQLAlchemy chooses them from the types
# the database describes (a float8 needs none, a numeric one): learnt on its first execution.
_RESULTS: dict[str, tuple[Callable[[Any], Any] | None, ...]] = {}


async def _result_processors(driver: Any, plan: _Compiled, dialect: Dialect) -> tuple[Callable[[Any], Any] | None, ...]:
    described = (await driver.prepare(plan.sql)).get_attributes()
    return tuple(
        column.type.dialect_impl(dialect).result_processor(dialect, attribute.type.oid)
        for column, attribute in zip(plan.columns, described, strict=True)
    )


def entity(session: AsyncSession, model: Any, values: Sequence[Any]) -> Any:
    """The `model` row whose columns, in its table's order, are `values` (read by `rows`), as the
    session's persistent object: the one it holds already, else one built from them."""
    sync = session.sync_session
    row = dict(zip((column.key for column in model.__table__.columns), values, strict=True))
    held = sync.identity_map.get(sync.identity_key(model, tuple(row[c.key] for c in model.__table__.primary_key)))
    if held is not None:
        return held
    obj = model(**row)
    make_transient_to_detached(obj)  # the row as read: nothing of it to write back
    sync.add(obj)
    return obj


async def run(conn: AsyncConnection, statement: Any, params: dict[str, Any]) -> None:
    """Execute `statement` on `conn`: in autocommit (storage.db.single_statements) its own
    transaction, else in the connection's, once begun."""
    if conn.dialect.name != "postgresql":
        await conn.execute(statement, params)
        return
    if conn.sync_connection.dispatch.before_cursor_execute:  # type: ignore[union-attr]
        await conn.execute(statement, params)  # something counts the statements: see _driver
        return
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    if driver.is_closed() or not (driver.is_in_transaction() or getattr(raw.dbapi_connection, "autocommit", False)):
        # Closed: SQLAlchemy raises, and throws the connection out of its pool. Not begun: its
        # BEGIN comes with its first statement (see _driver).
        await conn.execute(statement, params)
        return
    plan = compiled(statement, conn.dialect)
    try:
        await driver.execute(plan.sql, *arguments(plan, params))
    except Exception:
        if driver.is_closed():
            # Lost (the server restarted): SQLAlchemy did not see it fail, so the connection would
            # go back to the pool and fail the next statement too. A session's rollback does this.
            await conn.invalidate()
        raise


async def _driver(session: AsyncSession, inserts_only: bool) -> Any:
    """The asyncpg connection of the session's transaction, when a statement may go to it directly."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    if not inserts_only and counters.kept(session):
        return None  # storage.counters adds them first
    sync = session.sync_session
    if sync.new or sync.dirty or sync.deleted:
        await session.flush()  # as the session's autoflush would (on in every session of the bot)
    # The transaction's connection, asked of the session once per transaction (a greenlet each time).
    held = session.info.get(_CONNECTION)
    if held is not None and held[0] is sync.get_transaction():
        conn = held[1]
    else:
        conn = (await session.connection()).sync_connection
        assert conn is not None
        session.info[_CONNECTION] = (sync.get_transaction(), conn)
    if conn.dispatch.before_cursor_execute:
        # Something listens to the statements run (tests and bench_statements count them): they
        # would not see this one.
        return None
    driver: Any = conn.connection.driver_connection
    if not driver.is_in_transaction():
        # SQLAlchemy's BEGIN comes with its first statement. (A statement that fails here is
        # followed by the session's rollback, through SQLAlchemy: a lost connection leaves the pool.)
        return None
    return driver


_CONNECTION = "direct.connection"  # session.info: (its transaction, that transaction's connection)
