"""The inbound event queue: accepted webhook events waiting to be handled, in order per person."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.db import claim_row, claim_statement, dialect_insert, rows_changed
from storage.models import InboundEvent, utcnow


async def accept(session: AsyncSession, channel: str, update_id: str, user_id: str, incoming: dict[str, Any]) -> bool:
    """Queue the event; False when it is already queued (or was handled): a retried webhook."""
    now = utcnow()
    stmt = (
        dialect_insert(session, InboundEvent)
        .values(
            channel=channel,
            update_id=update_id,
            user_id=user_id,
            incoming=incoming,
            received_at=now,
            next_attempt_at=now,
            attempts=0,
        )
        .on_conflict_do_nothing(index_elements=["channel", "update_id"])
    )
    return rows_changed(await session.execute(stmt)) == 1


# No earlier unhandled event of the same person: their messages are handled in order.
_EARLIER = aliased(InboundEvent)
_FIRST_OF_ITS_PERSON = ~exists().where(
    _EARLIER.channel == InboundEvent.channel,
    _EARLIER.user_id == InboundEvent.user_id,
    _EARLIER.id < InboundEvent.id,
    _EARLIER.done_at.is_(None),
)
_CLAIM = claim_statement(InboundEvent, InboundEvent.done_at.is_(None), _FIRST_OF_ITS_PERSON)


async def due(session: AsyncSession, limit: int = 50) -> Sequence[int]:
    now = utcnow()
    stmt = (
        select(InboundEvent.id)
        .where(
            InboundEvent.done_at.is_(None),
            InboundEvent.next_attempt_at <= now,
            or_(InboundEvent.claimed_until.is_(None), InboundEvent.claimed_until < now),
            _FIRST_OF_ITS_PERSON,
        )
        .order_by(InboundEvent.id)
        .limit(limit)
    )
    return (await session.scalars(stmt)).all()


async def claim(session: AsyncSession, event_id: int, lease: dt.timedelta) -> InboundEvent | None:
    """Take one event to handle, unless it is done, leased by another worker, or an earlier event
    of the same person is still waiting."""
    return await claim_row(session, _CLAIM, event_id, lease)


async def finish(session: AsyncSession, event_id: int) -> None:
    await session.execute(
        update(InboundEvent).where(InboundEvent.id == event_id).values(done_at=utcnow(), claimed_until=None)
    )


async def retry(session: AsyncSession, event_id: int, delay: dt.timedelta) -> None:
    await session.execute(
        update(InboundEvent)
        .where(InboundEvent.id == event_id)
        .values(next_attempt_at=utcnow() + delay, claimed_until=None)
    )


async def prune(session: AsyncSession, older_than: dt.timedelta, now: dt.datetime | None = None) -> int:
    """Forget handled events (processed_updates keeps them from being handled twice)."""
    cutoff = (now or utcnow()) - older_than
    result = await session.execute(delete(InboundEvent).where(InboundEvent.done_at < cutoff))
    return rows_changed(result) or 0
