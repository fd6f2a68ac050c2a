"""Per-commune, per-day activity counters, bumped in the same transaction as the raw rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, func
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import built_once, dialect_insert
from storage.models import CommuneDailyCount
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

    One upsert, so concurrent bumps from several workers add up instead of overwriting.
    """
    await add_counts(session, CommuneDailyCount, {"commune_code": commune_code, "day": day}, METRICS, deltas)


async def add_counts(
    session: AsyncSession, model: Any, keys: dict[str, Any], metrics: Iterable[str], deltas: dict[str, int]
) -> None:
    """Add `deltas` to the counter row of `model` named by `keys` (its primary key), creating it."""
    metrics = tuple(metrics)
    unknown = deltas.keys() - set(metrics)
    if unknown:
        raise ValueError(f"unknown counters: {sorted(unknown)}")
    changed = tuple(m for m in metrics if deltas.get(m))
    if not changed:
        return
    stmt = _upsert(session, model, tuple(keys), metrics, changed)
    await session.execute(
        stmt, {**{f"v_{k}": v for k, v in keys.items()}, **{f"v_{m}": deltas.get(m, 0) for m in metrics}}
    )


def _upsert(
    session: AsyncSession, model: Any, keys: tuple[str, ...], metrics: tuple[str, ...], changed: tuple[str, ...]
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
