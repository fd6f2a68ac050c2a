"""What housekeeping deletes, and when: check-ins past their retention, old delivery bookkeeping,
and the short-lived rows (summaries never saved, link codes and wrong-code counts, expired media
files, handled inbound events, unanswered questions and their daily salts, the dashboard's
links and sessions past their time), for as long as
docs/privacy.md's "What is stored" table promises."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, or_
from sqlalchemy.ext.asyncio import AsyncSession

from storage import faq_misses, inbox, media, web_sessions
from storage.db import rows_changed
from storage.identity import FAILURE_WINDOW
from storage.models import LinkAttempt, LinkCode, OutboxMessage, ProcessedUpdate, VisitDraft
from storage.privacy import purge_check_ins
from storage.updates import PROCESSED_KEPT_DAYS
from storage.visits import DRAFT_LIFETIME

BOOKKEEPING_DAYS = PROCESSED_KEPT_DAYS
# Zalo events already handled: their processed marks keep a retry from being handled twice.
INBOX_KEEP_HANDLED = dt.timedelta(days=1)


async def purge(session: AsyncSession, now: dt.datetime, check_ins_before: dt.date) -> dict[str, int]:
    """Delete what has outlived its purpose, in the caller's transaction; how many rows of each kind."""
    old = now - dt.timedelta(days=BOOKKEEPING_DAYS)
    check_ins = await purge_check_ins(session, check_ins_before)
    processed = rows_changed(await session.execute(delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < old)))
    settled = or_(OutboxMessage.sent_at.is_not(None), OutboxMessage.failed_at.is_not(None))
    outbox = rows_changed(await session.execute(delete(OutboxMessage).where(OutboxMessage.created_at < old, settled)))
    short_lived = 0
    for statement in (
        delete(VisitDraft).where(VisitDraft.created_at < now - DRAFT_LIFETIME),
        delete(LinkCode).where(or_(LinkCode.expires_at < now, LinkCode.used_at.is_not(None))),
        delete(LinkAttempt).where(LinkAttempt.window_started_at < now - FAILURE_WINDOW),
    ):
        short_lived += rows_changed(await session.execute(statement))
    short_lived += await media.prune(session, now)
    short_lived += await inbox.prune(session, INBOX_KEEP_HANDLED, now)
    short_lived += await faq_misses.prune(session, now)
    short_lived += await web_sessions.prune(session, now)
    return {"check_ins": check_ins, "processed_updates": processed, "outbox": outbox, "short_lived": short_lived}
