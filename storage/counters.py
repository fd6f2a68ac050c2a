"""Per-commune, per-day activity counters, bumped in the same transaction as the raw rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, event, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from storage.db import INSERTS_ONLY, BotSession, built_once, dialect_insert
from storage.models import CommuneCount, CommuneDailyCount
from texts.formats import LOCAL_TIMEZONE

METRICS = (
    "households_visited",
    "revisits",
    "smartphones_seen",
    "installs_helped",
    "already_installed",
    "no_smartphone",
    "refused",
    "nobody_home",
    "checkins",
    "checkins_already_installed",
    "self_reported_installs",
)


async def bump(session: AsyncSession, commune_code: str, day: dt.date, **deltas: int) -> None:
    """Add `deltas` (negative to undo: a deleted or corrected visit) to a commune's day.

    Upserts, so concurrent bumps from several workers add up instead of overwriting: the day's
    row and the commune's running total (what a tally reads), always together.
    """
    await add_counts(session, CommuneDailyCount, {"commune_code": commune_code, "day": day}, METRICS, deltas)
    await add_counts(session, CommuneCount, {"commune_code": commune_code}, METRICS, deltas)


async def add_counts(
    session: AsyncSession, model: Any, keys: dict[str, Any], metrics: Iterable[str], deltas: dict[str, int]
) -> None:
    """Add `deltas` to the counter row of `model` named by `keys` (its primary key), creating it.

    In a transaction that `defer_until_commit` marked, the deltas are kept and added just before
    COMMIT (or before the transaction next reads or changes rows other than by INSERT)."""
    metrics = tuple(metrics)
    unknown = deltas.keys() - set(metrics)
    if unknown:
        raise ValueError(f"unknown counters: {sorted(unknown)}")
    if not any(deltas.get(m) for m in metrics):
        return
    pending = session.info.get(_PENDING)
    if pending is not None:
        row = pending.setdefault((model.__tablename__, tuple(sorted(keys.items()))), (model, keys, metrics, {}))[3]
        for m in metrics:
            row[m] = row.get(m, 0) + deltas.get(m, 0)
        return
    await session.execute(*_upsert_call(session, model, keys, metrics, deltas))


def _upsert_call(
    session: AsyncSession | Session, model: Any, keys: dict[str, Any], metrics: tuple[str, ...], deltas: dict[str, int]
) -> tuple[Any, dict[str, Any]]:
    changed = tuple(m for m in metrics if deltas.get(m))
    stmt = _upsert(session, model, tuple(keys), metrics, changed)
    return stmt, {**{f"v_{k}": v for k, v in keys.items()}, **{f"v_{m}": deltas.get(m, 0) for m in metrics}}


# --- counters added at the end of the transaction -------------------------------------------------
# A counter row (a commune's day) is shared by everyone who checks in there that day: its upsert
# locks the row until COMMIT, so every other transaction bumping it waits. Added last, the lock is
# held for those upserts and the COMMIT only, not for the rest of the update's work (the reply
# rendered and queued); and in one order (table, then key), so two transactions never wait for
# each other's rows.

_PENDING = "counters.pending"


def defer_until_commit(session: AsyncSession) -> None:
    """From now until this transaction ends, add_counts keeps its deltas for the COMMIT."""
    session.info[_PENDING] = {}


def kept(session: AsyncSession) -> bool:
    """Whether counters are kept for COMMIT that a statement reading or updating rows would see
    added first (storage.direct sends such a statement through the session)."""
    return bool(session.info.get(_PENDING))


def _due(pending: dict) -> list[tuple[Any, dict[str, Any], tuple[str, ...], dict[str, int]]]:
    """The kept counter rows that change, in the one order they are always locked in."""
    return [pending[key] for key in sorted(pending) if any(pending[key][3].values())]


def _apply_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    due = _due(pending)
    if len(due) > 1 and session.get_bind().dialect.name == "postgresql":
        # A check-in bumps three rows (the commune's day, its running total, the venue's day):
        # one statement instead of three, a round trip and most of a statement's CPU each.
        session.execute(*_chained_upsert_call(session, due))
    else:
        for model, keys, metrics, deltas in due:
            session.execute(*_upsert_call(session, model, keys, metrics, deltas))
    session.info[_PENDING] = {}


@event.listens_for(BotSession, "do_orm_execute")
def _before_reading(state: ORMExecuteState) -> None:
    # What the transaction reads or changes next sees its counters added up: a read of a
    # counter after a bump, a recount, a correction.
    if not state.is_insert and not state.execution_options.get(INSERTS_ONLY) and state.session.info.get(_PENDING):
        _apply_pending(state.session)


@event.listens_for(BotSession, "before_commit")
def _before_commit(session: Session) -> None:
    if session.info.get(_PENDING):
        _apply_pending(session)


@event.listens_for(BotSession, "after_transaction_end")
def _on_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    # A rolled-back transaction's deltas go with it; a committed one's were added before COMMIT.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


def _upsert(
    session: AsyncSession | Session,
    model: Any,
    keys: tuple[str, ...],
    metrics: tuple[str, ...],
    changed: tuple[str, ...],
) -> Any:
    """The counter upsert of this shape (a few dozen shapes in all), built once."""

    def build() -> Any:
        table = model.__table__
        insert = dialect_insert(session, table).values(
            {c: bindparam(f"v_{c}", type_=table.c[c].type) for c in (*keys, *metrics)}
        )
        return insert.on_conflict_do_update(
            index_elements=list(keys), set_={m: table.c[m] + insert.excluded[m] for m in changed}
        )

    return built_once(session, ("counters", model, keys, metrics, changed), build)


def _chained_upsert_call(
    session: Session, due: list[tuple[Any, dict[str, Any], tuple[str, ...], dict[str, int]]]
) -> Any:
    """The upserts of `due`, in its order, as one PostgreSQL statement (data-modifying CTEs).

    Each upsert selects its values FROM the one before it, so PostgreSQL runs them in that order
    (the sub-statements of a WITH otherwise run in an unspecified order): rows are locked in the
    same order as by separate statements, and two transactions never wait for each other. An
    upsert with DO UPDATE returns its row whether it inserted or updated it, so the chain never
    runs dry."""
    shapes = _shapes(due)

    def build() -> Any:
        *before, (model, keys, metrics, changed) = shapes
        previous = _chain(tuple(before))
        return _chained_upsert(model, keys, (*keys, *metrics), changed, len(before), previous)

    return built_once(session, ("counters chained", shapes), build), _chain_params(due)


def with_pending_counters(session: AsyncSession, key: Any, statement: Any, params: dict[str, Any]) -> tuple[Any, dict]:
    """`statement` (a PostgreSQL SELECT, `key` naming its shape) with the counters kept for COMMIT
    added to it as data-modifying CTEs, which are then no longer kept: for the statement an update
    runs last before COMMIT (its replies queued). A round trip less, and the counter rows are still
    locked from the update's last statement to its COMMIT only. As it is when nothing is kept, or
    on SQLite (whose counters stay separate statements, added at COMMIT)."""
    pending = session.info.get(_PENDING)
    if not pending or session.get_bind().dialect.name != "postgresql":
        return statement, params
    due = _due(pending)
    if not due:
        return statement, params
    shapes = _shapes(due)
    # add_cte: no part of the SELECT reads the chain, which PostgreSQL runs to completion anyway.
    combined = built_once(session, ("counters with", key, shapes), lambda: statement.add_cte(_chain(shapes)))
    session.info[_PENDING] = {}
    return combined, params | _chain_params(due)


_Shape = tuple[Any, tuple[str, ...], tuple[str, ...], tuple[str, ...]]


def _shapes(due: list[tuple[Any, dict[str, Any], tuple[str, ...], dict[str, int]]]) -> tuple[_Shape, ...]:
    """Each due row's model, key columns, metrics and the metrics it changes: what its upsert's SQL depends on."""
    return tuple(
        (model, tuple(keys), metrics, tuple(m for m in metrics if deltas.get(m)))
        for model, keys, metrics, deltas in due
    )


def _chain_params(due: list[tuple[Any, dict[str, Any], tuple[str, ...], dict[str, int]]]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for n, (_model, keys, metrics, deltas) in enumerate(due):
        params |= {f"c{n}_{k}": v for k, v in keys.items()}
        params |= {f"c{n}_{m}": deltas.get(m, 0) for m in metrics}
    return params


def _chain(shapes: tuple[_Shape, ...]) -> Any:
    """The upserts of `shapes` as CTEs, each selecting FROM the one before (see
    _chained_upsert_call): the last of them, or None for no shapes."""
    previous = None
    for n, (model, keys, metrics, changed) in enumerate(shapes):
        upsert = _chained_upsert(model, keys, (*keys, *metrics), changed, n, previous)
        previous = upsert.returning(model.__table__.c[keys[0]]).cte(f"bumped_{n}")
    return previous


def _chained_upsert(
    model: Any, keys: tuple[str, ...], columns: tuple[str, ...], changed: tuple[str, ...], n: int, previous: Any
) -> Any:
    """The n-th upsert of a chain, its values (parameters c<n>_<column>) selected FROM `previous`."""
    table = model.__table__
    values = select(*(bindparam(f"c{n}_{c}", type_=table.c[c].type).label(c) for c in columns))
    if previous is not None:
        values = values.select_from(previous)
    insert = postgresql.insert(table).from_select(columns, values)
    return insert.on_conflict_do_update(
        index_elements=list(keys), set_={m: table.c[m] + insert.excluded[m] for m in changed}
    )


def local_day_sql(session: AsyncSession, column: Any) -> Any:
    """SQL for the Vietnam date of a stored UTC timestamp, for recounts grouped by day.

    Vietnam has kept UTC+7 without daylight saving since 1975, so SQLite's fixed offset is exact.
    """
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone(LOCAL_TIMEZONE.key, column))
    return func.date(column, "+7 hours")


def as_date(value: Any) -> dt.date:
    """A day from local_day_sql: a date on PostgreSQL, ISO text on SQLite."""
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


async def totals(session: AsyncSession) -> dict[str, int]:
    """Every counter summed over all communes, from the running totals: one row a commune, so it
    stays cheap at any number of visits (the service's metrics read it at every scrape)."""
    row = (
        await session.execute(select(*(func.coalesce(func.sum(getattr(CommuneCount, m)), 0) for m in METRICS)))
    ).one()
    return {m: int(value) for m, value in zip(METRICS, row, strict=True)}
