"""Hourly housekeeping: purge check-ins past their retention, old delivery bookkeeping, and the
short-lived rows (summaries never saved, link codes and wrong-code counts, expired media files)
for as long as the README's "What is stored" table promises."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from sqlalchemy import delete, or_

from storage import inbox, media
from storage.identity import FAILURE_WINDOW
from storage.models import (
    LinkAttempt,
    LinkCode,
    OutboxMessage,
    ProcessedUpdate,
    VisitDraft,
    utcnow,
)
from storage.privacy import purge_check_ins
from storage.updates import PROCESSED_KEPT_DAYS
from storage.visits import DRAFT_LIFETIME
from texts.formats import local_date

log = logging.getLogger(__name__)

BOOKKEEPING_DAYS = PROCESSED_KEPT_DAYS
# Zalo events already handled: their processed marks keep a retry from being handled twice.
INBOX_KEEP_HANDLED = dt.timedelta(days=1)


async def run_once(sessions, checkin_retention_days: int, now: dt.datetime | None = None) -> dict[str, int]:
    """Delete what has outlived its purpose; safe to run in every worker at once."""
    now = now or utcnow()
    old = now - dt.timedelta(days=BOOKKEEPING_DAYS)
    async with sessions() as db, db.begin():
        check_ins = await purge_check_ins(db, local_date(now) - dt.timedelta(days=checkin_retention_days))
        processed = (await db.execute(delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < old))).rowcount
        outbox = (
            await db.execute(
                delete(OutboxMessage).where(
                    OutboxMessage.created_at < old,
                    or_(OutboxMessage.sent_at.is_not(None), OutboxMessage.failed_at.is_not(None)),
                )
            )
        ).rowcount
        short_lived = 0
        for statement in (
            delete(VisitDraft).where(VisitDraft.created_at < now - DRAFT_LIFETIME),
            delete(LinkCode).where(or_(LinkCode.expires_at < now, LinkCode.used_at.is_not(None))),
            delete(LinkAttempt).where(LinkAttempt.window_started_at < now - FAILURE_WINDOW),
        ):
            short_lived += (await db.execute(statement)).rowcount or 0
        short_lived += await media.prune(db, now)
        short_lived += await inbox.prune(db, INBOX_KEEP_HANDLED, now)
    if check_ins or processed or outbox or short_lived:
        log.info(
            "housekeeping: purged %s check-ins, %s processed marks, %s sent messages, %s short-lived rows",
            check_ins,
            processed,
            outbox,
            short_lived,
        )
    return {"check_ins": check_ins, "processed_updates": processed, "outbox": outbox, "short_lived": short_lived}


async def run(sessions, checkin_retention_days: int, interval: float = 3600.0) -> None:
    while True:
        try:
            await run_once(sessions, checkin_retention_days)
        except Exception:  # the database may be down; the next round tries again
            log.exception("housekeeping round failed")
        await asyncio.sleep(interval)
