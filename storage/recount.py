"""`tally rebuild`: recompute the per-commune day counters from the raw rows and report drift."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from storage import installs, venues, visits
from storage.counters import METRICS
from storage.db import is_postgres
from storage.models import CommuneCount, CommuneDailyCount
from storage.privacy import purged_before

PURGEABLE_CHECKIN_METRICS = ("checkins", "checkins_already_installed")

Counts = dict[tuple[str, dt.date], dict[str, int]]
# Every raw source of the counters, each recounting its own metrics from its own rows.
SOURCES: list[Callable[[AsyncSession], Awaitable[Counts]]] = [installs.recount, visits.recount, venues.recount]


@dataclass(frozen=True)
class Drift:
    commune_code: str
    day: dt.date
    metric: str
    counter: int  # what the counters said
    recount: int  # what the raw rows say


async def rebuild(session: AsyncSession, *, fix: bool = True) -> list[Drift]:
    """Compare the counters with a recount of the raw rows; with `fix`, replace them by it.

    On PostgreSQL the counters table is locked first, so an update committing meanwhile waits
    and then adds its own bump on top of the recount (which cannot have seen it).
    """
    if is_postgres(session):
        await session.execute(text("LOCK TABLE commune_daily_counts, commune_counts IN EXCLUSIVE MODE"))
    expected = await _recount(session)
    actual = await _counters(session)
    # Days whose raw check-ins were purged for retention: their counters are the only record.
    purged = await purged_before(session, "check_ins")
    if purged is not None:
        for (code, day), have in actual.items():
            if day < purged:
                for metric in PURGEABLE_CHECKIN_METRICS:
                    expected[(code, day)][metric] = have[metric]
    drift = _differences(expected, actual)
    if fix and drift:
        await session.execute(delete(CommuneDailyCount))
        session.add_all(
            CommuneDailyCount(commune_code=code, day=day, **values)
            for (code, day), values in expected.items()
            if any(values.values())
        )
        await session.flush()
    if fix:
        await _total_up(session)
    return drift


async def _total_up(session: AsyncSession) -> None:
    """The running totals from the day counters (what the tally reads; they agree with the days)."""
    await session.execute(delete(CommuneCount))
    sums = [func.sum(getattr(CommuneDailyCount, m)) for m in METRICS]
    days = select(CommuneDailyCount.commune_code, *sums).group_by(CommuneDailyCount.commune_code)
    await session.execute(insert(CommuneCount).from_select(["commune_code", *METRICS], days))


async def _recount(session: AsyncSession) -> Counts:
    """What the raw rows say, per commune and day, every source added up."""
    expected: Counts = defaultdict(lambda: {m: 0 for m in METRICS})
    for source in SOURCES:
        for key, values in (await source(session)).items():
            for metric, value in values.items():
                expected[key][metric] += value
    return expected


async def _counters(session: AsyncSession) -> Counts:
    """What the counters say."""
    return {
        (row.commune_code, row.day): {m: getattr(row, m) for m in METRICS}
        for row in (await session.scalars(select(CommuneDailyCount))).all()
    }


def _differences(expected: Counts, actual: Counts) -> list[Drift]:
    zero = {m: 0 for m in METRICS}
    drift: list[Drift] = []
    for key in sorted(expected.keys() | actual.keys()):
        want, have = expected.get(key, zero), actual.get(key, zero)
        drift.extend(Drift(key[0], key[1], m, have[m], want[m]) for m in METRICS if want[m] != have[m])
    return drift
