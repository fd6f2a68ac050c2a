"""Hourly housekeeping, in every worker: what is deleted and when is storage.housekeeping's."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.housekeeping import purge
from storage.models import utcnow
from texts.formats import local_date

log = logging.getLogger(__name__)


async def run_once(
    sessions: async_sessionmaker[AsyncSession], checkin_retention_days: int, now: dt.datetime | None = None
) -> dict[str, int]:
    """Delete what has outlived its purpose; safe to run in every worker at once."""
    now = now or utcnow()
    async with sessions() as db, db.begin():
        purged = await purge(db, now, local_date(now) - dt.timedelta(days=checkin_retention_days))
    if any(purged.values()):
        log.info(
            "housekeeping: purged %(check_ins)s check-ins, %(processed_updates)s processed marks, "
            "%(outbox)s sent messages, %(short_lived)s short-lived rows",
            purged,
        )
    return purged


async def run(
    sessions: async_sessionmaker[AsyncSession], checkin_retention_days: int, interval: float = 3600.0
) -> None:
    while True:
        try:
            await run_once(sessions, checkin_retention_days)
        except Exception:  # the database may be down; the next round tries again
            log.exception("housekeeping round failed")
        await asyncio.sleep(interval)
